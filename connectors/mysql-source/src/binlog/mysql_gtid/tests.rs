use super::*;

const UUID_A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const UUID_B: &str = "7c1de3f2-3fd2-11e6-9cdc-42010af000bc";

fn gtid(uuid: &str, gno: u64) -> MySqlGtid {
    MySqlGtid {
        source: GtidSource {
            uuid: uuid.to_owned(),
            tag: None,
        },
        gno,
    }
}

#[test]
fn parses_and_formats_mysql_text_sets() {
    // MySQL's @@gtid_executed form (upper case, `,\n` between sources) and Debezium's samples.
    let set = MySqlGtidSet::parse(
        "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7-9,\n7c1de3f2-3fd2-11e6-9cdc-42010af000bc:5-41",
    )
    .unwrap();
    assert_eq!(set.to_string(), format!("{UUID_A}:1-5:7-9,{UUID_B}:5-41"));
    let set = MySqlGtidSet::parse(
        "036d85a9-64e5-11e6-9b48-42010af0000c:1-2,7145bf69-d1ca-11e5-a588-0242ac110004:1-3200,\
         7c1de3f2-3fd2-11e6-9cdc-42010af000bc:1-41",
    )
    .unwrap();
    assert_eq!(
        set.to_string(),
        "036d85a9-64e5-11e6-9b48-42010af0000c:1-2,7145bf69-d1ca-11e5-a588-0242ac110004:1-3200,\
         7c1de3f2-3fd2-11e6-9cdc-42010af000bc:1-41"
    );
    assert!(MySqlGtidSet::parse("").unwrap().is_empty());
    assert_eq!(MySqlGtidSet::parse("").unwrap().to_string(), "");
}

#[test]
fn overlapping_and_adjacent_intervals_merge_when_parsed() {
    let set = MySqlGtidSet::parse(&format!("{UUID_A}:7-9:1-3:4:3-5,{UUID_A}:11")).unwrap();
    assert_eq!(set.to_string(), format!("{UUID_A}:1-5:7-9:11"));
}

#[test]
fn adding_transactions_extends_and_joins_intervals() {
    let mut set = MySqlGtidSet::parse(&format!("{UUID_A}:1-5:7")).unwrap();
    set.add(&gtid(UUID_A, 6));
    assert_eq!(set.to_string(), format!("{UUID_A}:1-7"));
    set.add(&gtid(UUID_A, 7));
    set.add(&gtid(UUID_A, 9));
    set.add(&gtid(UUID_B, 1));
    assert_eq!(set.to_string(), format!("{UUID_A}:1-7:9,{UUID_B}:1"));
    assert!(set.contains(&gtid(UUID_A, 3)));
    assert!(set.contains(&gtid(UUID_A, 9)));
    assert!(!set.contains(&gtid(UUID_A, 8)));
    assert!(!set.contains(&gtid(UUID_B, 2)));
}

#[test]
fn tagged_gtids_are_grouped_under_their_uuid() {
    let set = MySqlGtidSet::parse(&format!("{UUID_A}:1-5:Blue:1-2:3,{UUID_A}:alpha:4")).unwrap();
    assert_eq!(set.to_string(), format!("{UUID_A}:1-5:alpha:4:blue:1-3"));
    let tagged = MySqlGtid {
        source: GtidSource {
            uuid: UUID_A.to_owned(),
            tag: Some("blue".into()),
        },
        gno: 2,
    };
    assert!(set.contains(&tagged));
    assert_eq!(tagged.to_string(), format!("{UUID_A}:blue:2"));
}

#[test]
fn invalid_sets_are_typed_errors() {
    for text in [
        "0-1-42",
        "not-a-uuid:1-5",
        UUID_A,
        &format!("{UUID_A}:"),
        &format!("{UUID_A}:5-1"),
        &format!("{UUID_A}:0"),
        &format!("{UUID_A}:x-y"),
        &format!("{UUID_A}:1-5:tag"),
        &format!("{UUID_A}:tag:other:1"),
        &format!("{UUID_A}:99999999999999999999999"),
        &format!("{UUID_A}:1-9223372036854775807"),
        "3e11fa47-71ca-11e1-9e33-c80aa94295é:1",
    ] {
        let error = MySqlGtidSet::parse(text).unwrap_err();
        assert!(
            error.to_string().starts_with("invalid MySQL GTID set"),
            "{error}"
        );
    }
}

#[test]
fn sets_become_dump_sids_with_exclusive_ends() {
    let set = MySqlGtidSet::parse(&format!("{UUID_B}:1-5:7,{UUID_A}:3")).unwrap();
    let sids = set.to_sids().unwrap();
    let text: Vec<String> = sids.iter().map(ToString::to_string).collect();
    assert_eq!(text, vec![format!("{UUID_A}:3"), format!("{UUID_B}:1-5:7")]);
    let ends: Vec<(u64, u64)> = sids[1]
        .intervals()
        .iter()
        .map(|i| (i.start(), i.end()))
        .collect();
    assert_eq!(ends, vec![(1, 6), (7, 8)]);
    let mut huge = MySqlGtidSet::default();
    huge.add(&gtid(UUID_A, u64::MAX));
    assert!(huge.to_sids().is_err());
}
