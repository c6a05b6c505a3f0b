//! Events built byte by byte after MySQL's documented binlog layout (v4 header, no
//! checksum): GTID_LOG_EVENT (33), PREVIOUS_GTIDS_LOG_EVENT (35), TABLE_MAP (19),
//! WRITE_ROWS v2 (30), QUERY (2), XID (16).

use mysql_async::binlog::BinlogVersion;
use mysql_async::binlog::events::{Event, EventData, FormatDescriptionEvent};

use super::*;
use crate::binlog::mysql_gtid::MySqlGtidSet;
use crate::envelope::{self, Change, Operation};
use crate::schema::{self, Column};
use crate::types::{ColumnKind, TypeModes};

const SERVER_UUID: [u8; 16] = [
    0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62,
];
const UUID_TEXT: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

/// Event `type_code` ending at `log_pos`.
fn event(type_code: u8, log_pos: u32, body: &[u8]) -> Event {
    let mut bytes = 1_700_000_000_u32.to_le_bytes().to_vec();
    bytes.push(type_code);
    bytes.extend(7_u32.to_le_bytes());
    bytes.extend(u32::try_from(19 + body.len()).unwrap().to_le_bytes());
    bytes.extend(log_pos.to_le_bytes());
    bytes.extend(0_u16.to_le_bytes());
    bytes.extend(body);
    let fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
    Event::read(&fde, &bytes[..]).unwrap()
}

/// MySQL 8.0 GTID_LOG_EVENT body: flags, sid, gno, logical clock, commit timestamps,
/// transaction length, server version.
fn gtid_body(gno: u64, full: bool) -> Vec<u8> {
    let mut body = vec![1_u8];
    body.extend(SERVER_UUID);
    body.extend(gno.to_le_bytes());
    body.push(2);
    body.extend(4_u64.to_le_bytes());
    body.extend(5_u64.to_le_bytes());
    if full {
        body.extend(&1_700_000_000_000_000_u64.to_le_bytes()[..7]);
        body.push(200);
        body.extend(80036_u32.to_le_bytes());
    }
    body
}

fn previous_gtids_body(intervals: &[(u64, u64)]) -> Vec<u8> {
    let mut body = 1_u64.to_le_bytes().to_vec();
    body.extend(SERVER_UUID);
    body.extend(u64::try_from(intervals.len()).unwrap().to_le_bytes());
    for (start, end_exclusive) in intervals {
        body.extend(start.to_le_bytes());
        body.extend(end_exclusive.to_le_bytes());
    }
    body
}

fn table_map_body() -> Vec<u8> {
    let mut body = 42_u64.to_le_bytes()[..6].to_vec();
    body.extend(1_u16.to_le_bytes());
    body.push(4);
    body.extend(b"shop\0");
    body.push(1);
    body.extend(b"t\0");
    body.push(1); // one column
    body.push(3); // MYSQL_TYPE_LONG
    body.push(0); // no metadata
    body.push(0); // null bitmap
    body
}

fn write_rows_body(values: &[i32]) -> Vec<u8> {
    let mut body = 42_u64.to_le_bytes()[..6].to_vec();
    body.extend(1_u16.to_le_bytes());
    body.extend(2_u16.to_le_bytes()); // no extra data
    body.push(1); // column count
    body.push(0b1); // columns present
    for value in values {
        body.push(0); // null bitmap
        body.extend(value.to_le_bytes());
    }
    body
}

fn query_body(query: &str) -> Vec<u8> {
    let mut body = 9_u32.to_le_bytes().to_vec(); // thread id
    body.extend(0_u32.to_le_bytes()); // exec time
    body.push(4); // schema length
    body.extend(0_u16.to_le_bytes()); // error code
    body.extend(0_u16.to_le_bytes()); // status vars length
    body.extend(b"shop\0");
    body.extend(query.as_bytes());
    body
}

fn start_at(gtids: &str, file: &str, pos: u64, skip: u64) -> BinlogPosition {
    BinlogPosition {
        gtids: gtids.into(),
        file: file.into(),
        pos,
        skip_events: skip,
        skip_rows: 0,
    }
}

/// Feeds events as the reader does, turning rows into records; returns them.
fn feed(transactions: &mut Transactions, events: &[Event]) -> Vec<SourceRecordView> {
    let table = schema::build(
        "srv",
        "shop",
        "t",
        vec![Column {
            default: None,
            name: "id".into(),
            kind: ColumnKind::Integer {
                bytes: 4,
                unsigned: false,
            },
            nullable: false,
            column_type: "int(11)".into(),
            included: true,
        }],
        vec![0],
        &TypeModes::default(),
    );
    let envelope_schema = envelope::envelope_schema(&table, "mysql");
    let partition = crate::position::partition("srv");
    let mut records = Vec::new();
    let mut table_map = None;
    for event in events {
        let header = event.header();
        let end_pos = u64::from(header.log_pos());
        let start_pos = end_pos - u64::from(header.event_size());
        match event.read_data().unwrap().unwrap() {
            EventData::GtidEvent(gtid) => {
                transactions.on_mysql_gtid(MySqlGtid::from_event(&gtid), start_pos);
                continue;
            }
            EventData::PreviousGtidsEvent(previous) => {
                transactions.on_previous_gtids(MySqlGtidSet::from_previous(&previous));
            }
            EventData::TableMapEvent(map) => table_map = Some(map.into_owned()),
            EventData::QueryEvent(query) if query.query() == "BEGIN" => transactions.on_begin(),
            EventData::QueryEvent(_) if transactions.statement_ends_transaction() => {
                transactions.commit(end_pos);
            }
            EventData::XidEvent(_) => transactions.commit(end_pos),
            EventData::RowsEvent(rows) => {
                let map = table_map.as_ref().unwrap();
                for (index, row) in rows.rows(map).enumerate() {
                    let (_, after) = row.unwrap();
                    let value = ColumnKind::Integer {
                        bytes: 4,
                        unsigned: false,
                    }
                    .from_binlog(after.unwrap().take(0).unwrap(), &TypeModes::default())
                    .unwrap();
                    if !transactions.next_change() {
                        continue;
                    }
                    let info = transactions.source_info(
                        "mysql",
                        "srv",
                        &header,
                        u32::try_from(index).unwrap(),
                    );
                    let change = Change {
                        operation: Operation::Create,
                        before: None,
                        after: Some(vec![value]),
                    };
                    for record in envelope::records(
                        &table,
                        &envelope_schema,
                        change,
                        &info,
                        &partition,
                        &transactions.offset(),
                        true,
                    ) {
                        records.push(SourceRecordView {
                            id: record.record.value["after"]["id"].as_i64().unwrap(),
                            gtid: record.record.value["source"]["gtid"].clone(),
                            offset: StoredOffset::from_map(&record.source_offset).unwrap(),
                        });
                    }
                }
                transactions.event_done(true);
                continue;
            }
            _ => {}
        }
        transactions.event_done(false);
    }
    records
}

#[derive(Debug)]
struct SourceRecordView {
    id: i64,
    gtid: Value,
    offset: StoredOffset,
}

fn streaming(offset: &StoredOffset) -> &BinlogPosition {
    match offset {
        StoredOffset::Streaming(position) => position,
        StoredOffset::Snapshot { .. } => panic!("snapshot offset"),
    }
}

/// Two transactions: GTID 6 (two rows) then GTID 7 (one row), after `uuid:1-5`.
fn two_transactions() -> Vec<Event> {
    vec![
        event(33, 300, &gtid_body(6, true)),
        event(2, 400, &query_body("BEGIN")),
        event(19, 450, &table_map_body()),
        event(30, 500, &write_rows_body(&[1, 2])),
        event(16, 531, &7_u64.to_le_bytes()),
        event(33, 600, &gtid_body(7, false)),
        event(2, 700, &query_body("BEGIN")),
        event(19, 750, &table_map_body()),
        event(30, 800, &write_rows_body(&[3])),
        event(16, 831, &8_u64.to_le_bytes()),
    ]
}

#[test]
fn gtid_events_give_each_record_its_transaction_gtid_and_the_set_before_it() {
    let start = start_at(&format!("{UUID_TEXT}:1-5"), "binlog.000002", 157, 0);
    let mut transactions = Transactions::new(Flavor::MySql, &start).unwrap();
    let records = feed(&mut transactions, &two_transactions());
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    assert_eq!(records[0].gtid, Value::from(format!("{UUID_TEXT}:6")));
    assert_eq!(records[2].gtid, Value::from(format!("{UUID_TEXT}:7")));
    let first = streaming(&records[0].offset);
    assert_eq!(first.gtids, format!("{UUID_TEXT}:1-5"));
    // The GTID event (19-byte header + 54-byte body) starts 73 bytes before its end.
    // Debezium's `event` (BEGIN and TABLE_MAP handled) and `row` (rows of the rows event).
    assert_eq!(
        (first.pos, first.skip_events, first.skip_rows),
        (300 - 73, 2, 1)
    );
    let second = streaming(&records[1].offset);
    assert_eq!((second.skip_events, second.skip_rows), (2, 2));
    let third = streaming(&records[2].offset);
    assert_eq!(third.gtids, format!("{UUID_TEXT}:1-6"));
    assert_eq!((third.skip_events, third.skip_rows), (2, 1));
    // After the last commit the state includes transaction 7.
    assert_eq!(
        streaming(&StoredOffset::from_map(&transactions.offset()).unwrap()).gtids,
        format!("{UUID_TEXT}:1-7")
    );
}

#[test]
fn a_resumed_stream_skips_the_delivered_records_of_its_first_transaction() {
    // The offset of record 1 (two events and one row of GTID 6 delivered): the server
    // resends GTID 6.
    let mut start = start_at(&format!("{UUID_TEXT}:1-5"), "binlog.000002", 227, 2);
    start.skip_rows = 1;
    let mut transactions = Transactions::new(Flavor::MySql, &start).unwrap();
    let records = feed(&mut transactions, &two_transactions());
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![2, 3]);
    let first = streaming(&records[0].offset);
    assert_eq!((first.skip_events, first.skip_rows), (2, 2));
}

#[test]
fn a_debezium_offset_keeps_only_its_row_count() {
    // Debezium counts ANNOTATE_ROWS events our stream never sees: its `event` is not ours.
    let mut map = serde_json::Map::new();
    for (key, value) in [
        ("file", Value::from("bin.000002")),
        ("pos", Value::from(4_604_213)),
        ("gtids", Value::from("0-1-38608")),
        ("event", Value::from(2)),
        ("row", Value::from(1)),
        ("server_id", Value::from(1)),
    ] {
        map.insert(key.to_owned(), value);
    }
    let offset = StoredOffset::from_map(&map).unwrap();
    let position = streaming(&offset);
    assert_eq!((position.skip_events, position.skip_rows), (0, 1));
}

#[test]
fn a_ddl_without_begin_is_its_own_transaction() {
    let start = start_at(&format!("{UUID_TEXT}:1-5"), "binlog.000002", 157, 0);
    let mut transactions = Transactions::new(Flavor::MySql, &start).unwrap();
    let mut events = vec![
        event(33, 300, &gtid_body(6, true)),
        event(2, 400, &query_body("ALTER TABLE t ADD c INT")),
    ];
    events.extend(two_transactions().into_iter().skip(5));
    let records = feed(&mut transactions, &events);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].gtid, Value::from(format!("{UUID_TEXT}:7")));
    assert_eq!(
        streaming(&records[0].offset).gtids,
        format!("{UUID_TEXT}:1-6")
    );
}

#[test]
fn a_file_start_learns_the_set_from_previous_gtids_at_the_file_head() {
    let start = start_at("", "binlog.000002", 4, 0);
    let mut transactions = Transactions::new(Flavor::MySql, &start).unwrap();
    let mut events = vec![event(35, 157, &previous_gtids_body(&[(1, 6)]))];
    events.extend(two_transactions());
    let records = feed(&mut transactions, &events);
    assert_eq!(
        streaming(&records[0].offset).gtids,
        format!("{UUID_TEXT}:1-5")
    );
    assert_eq!(
        streaming(&records[2].offset).gtids,
        format!("{UUID_TEXT}:1-6")
    );
}

#[test]
fn a_mid_file_start_keeps_resuming_by_position_until_a_file_head() {
    let start = start_at("", "binlog.000002", 230, 0);
    let mut transactions = Transactions::new(Flavor::MySql, &start).unwrap();
    // Not expected mid-file, but even if it came it must not be trusted.
    let mut events = vec![event(35, 157, &previous_gtids_body(&[(1, 6)]))];
    events.extend(two_transactions());
    let records = feed(&mut transactions, &events);
    assert_eq!(records[0].gtid, Value::from(format!("{UUID_TEXT}:6")));
    assert_eq!(streaming(&records[2].offset).gtids, "");
    // The next file is read from its head: its PREVIOUS_GTIDS event is the whole history.
    transactions.on_rotate("binlog.000003", 4, false);
    let records = feed(
        &mut transactions,
        &[
            event(35, 157, &previous_gtids_body(&[(1, 8)])),
            event(33, 300, &gtid_body(8, true)),
            event(2, 400, &query_body("BEGIN")),
            event(19, 450, &table_map_body()),
            event(30, 500, &write_rows_body(&[9])),
            event(16, 531, &9_u64.to_le_bytes()),
        ],
    );
    let position = streaming(&records[0].offset);
    assert_eq!(position.gtids, format!("{UUID_TEXT}:1-7"));
    assert_eq!(position.file, "binlog.000003");
}

#[test]
fn a_stored_set_that_is_not_mysql_syntax_is_a_definite_error() {
    let start = start_at("garbage", "binlog.000002", 4, 0);
    assert!(matches!(
        Transactions::new(Flavor::MySql, &start),
        Err(SourceError::Definite(_))
    ));
}

#[test]
fn mariadb_bookkeeping_is_unchanged() {
    let start = start_at("0-1-41", "bin.000001", 100, 0);
    let mut transactions = Transactions::new(Flavor::MariaDb, &start).unwrap();
    let gtid = crate::binlog::gtid::MariaGtid {
        domain: 0,
        server: 1,
        sequence: 42,
        standalone: false,
    };
    transactions.on_mariadb_gtid(gtid, 200);
    transactions.on_begin();
    assert!(!transactions.statement_ends_transaction());
    assert!(transactions.next_change());
    assert_eq!(transactions.gtid().as_deref(), Some("0-1-42"));
    let offset = StoredOffset::from_map(&transactions.offset()).unwrap();
    assert_eq!(streaming(&offset).gtids, "0-1-41");
    transactions.commit(300);
    let offset = StoredOffset::from_map(&transactions.offset()).unwrap();
    assert_eq!(streaming(&offset).gtids, "0-1-42");
    assert_eq!(streaming(&offset).pos, 300);
}

#[test]
fn anonymous_gtid_events_carry_no_gtid() {
    // ANONYMOUS_GTID_LOG_EVENT (34): the same body with a zero sid and gno, gtid_mode=OFF.
    let mut body = vec![1_u8];
    body.extend([0_u8; 16]);
    body.extend(0_u64.to_le_bytes());
    body.push(2);
    body.extend(0_u64.to_le_bytes());
    body.extend(1_u64.to_le_bytes());
    let anonymous = event(34, 300, &body);
    assert!(matches!(
        anonymous.read_data().unwrap(),
        Some(EventData::AnonymousGtidEvent(_))
    ));
    let start = start_at("", "binlog.000002", 157, 0);
    let mut transactions = Transactions::new(Flavor::MySql, &start).unwrap();
    let mut events = vec![anonymous];
    events.extend(two_transactions().into_iter().skip(1).take(4));
    let records = feed(&mut transactions, &events);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].gtid, Value::Null);
    assert_eq!(streaming(&records[0].offset).gtids, "");
}

#[test]
fn a_transaction_already_in_the_set_is_not_delivered_again() {
    // Resuming at record 1 of GTID 7 while the server also sends GTID 6 (in the set).
    let mut start = start_at(&format!("{UUID_TEXT}:1-6"), "binlog.000002", 531, 2);
    start.skip_rows = 1;
    let mut transactions = Transactions::new(Flavor::MySql, &start).unwrap();
    let records = feed(&mut transactions, &two_transactions());
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    assert!(ids.is_empty(), "{ids:?}");
    let start = start_at(&format!("{UUID_TEXT}:1-6"), "binlog.000002", 531, 0);
    let mut transactions = Transactions::new(Flavor::MySql, &start).unwrap();
    let records = feed(&mut transactions, &two_transactions());
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![3]);
}
