//! Type mapping: text and binlog forms against the JSON Debezium writes.

use super::*;

fn kind(data_type: &str, column_type: &str) -> ColumnKind {
    ColumnKind::from_information_schema(
        data_type,
        column_type,
        Some(10),
        Some(2),
        Some(6),
        Some("utf8mb4"),
    )
}

#[test]
fn unsigned_bigint_above_two_to_the_63_is_never_negative() {
    let k = kind("bigint", "bigint(20) unsigned");
    let modes = TypeModes::default();
    let from_binlog = k
        .from_binlog(BinlogValue::Value(MyValue::Int(-1)), &modes)
        .unwrap();
    let from_text = k.from_text(b"18446744073709551615", &modes).unwrap();
    assert_eq!(from_binlog, from_text);
    // 2^64-1 as Decimal(20,0): 0x00 ff ff ff ff ff ff ff ff.
    assert_eq!(
        from_text,
        Value::String(BASE64.encode([0, 255, 255, 255, 255, 255, 255, 255, 255]))
    );
    let long = TypeModes {
        bigint_unsigned: BigintUnsigned::Long,
        ..modes
    };
    assert!(k.from_text(b"18446744073709551615", &long).is_err());
    assert_eq!(k.from_text(b"42", &long).unwrap(), Value::from(42));
}

#[test]
fn unsigned_small_ints_are_reinterpreted() {
    let modes = TypeModes::default();
    let tiny = kind("tinyint", "tinyint(3) unsigned");
    assert_eq!(
        tiny.from_binlog(BinlogValue::Value(MyValue::Int(-56)), &modes)
            .unwrap(),
        Value::from(200)
    );
    let medium = kind("mediumint", "mediumint(8) unsigned");
    assert_eq!(
        medium
            .from_binlog(BinlogValue::Value(MyValue::Int(-1)), &modes)
            .unwrap(),
        Value::from(16_777_215)
    );
}

#[test]
fn decimals_encode_like_connect() {
    assert_eq!(
        decimal_value("123.45", 2, DecimalMode::Precise).unwrap(),
        Value::String(BASE64.encode([0x30, 0x39]))
    );
    assert_eq!(
        decimal_value("-1.00", 2, DecimalMode::Precise).unwrap(),
        Value::String(BASE64.encode([0x9c]))
    );
    assert_eq!(
        decimal_value("0", 0, DecimalMode::Precise).unwrap(),
        Value::String(BASE64.encode([0]))
    );
    assert_eq!(
        decimal_value("-128", 0, DecimalMode::Precise).unwrap(),
        Value::String(BASE64.encode([0x80]))
    );
    assert_eq!(
        decimal_value("1.5", 2, DecimalMode::String).unwrap(),
        Value::from("1.5")
    );
    assert_eq!(
        decimal_value("1.5", 2, DecimalMode::Double).unwrap(),
        Value::from(1.5)
    );
}

#[test]
fn dates_and_times() {
    let modes = TypeModes::default();
    assert_eq!(
        kind("date", "date")
            .from_text(b"2024-02-29", &modes)
            .unwrap(),
        Value::from(19_782)
    );
    assert_eq!(
        kind("date", "date")
            .from_text(b"0000-00-00", &modes)
            .unwrap(),
        Value::Null
    );
    let dt = ColumnKind::DateTime { fsp: 6 };
    assert_eq!(
        dt.from_text(b"1970-01-01 00:00:01.000002", &modes).unwrap(),
        Value::from(1_000_002)
    );
    let dt3 = ColumnKind::DateTime { fsp: 3 };
    assert_eq!(
        dt3.from_text(b"1970-01-01 00:00:01.500", &modes).unwrap(),
        Value::from(1500)
    );
    let ts = ColumnKind::Timestamp { fsp: 3 };
    assert_eq!(
        ts.from_text(b"2024-01-02 03:04:05.120", &modes).unwrap(),
        Value::from("2024-01-02T03:04:05.12Z")
    );
    assert_eq!(
        ts.from_binlog(
            BinlogValue::Value(MyValue::Bytes(b"1704164645.120000".to_vec())),
            &modes
        )
        .unwrap(),
        Value::from("2024-01-02T03:04:05.120Z")
    );
    let time = ColumnKind::Time { fsp: 6 };
    assert_eq!(
        time.from_text(b"-838:59:59.000000", &modes).unwrap(),
        Value::from(-3_020_399_000_000_i64)
    );
    assert_eq!(
        time.from_binlog(
            BinlogValue::Value(MyValue::Time(true, 34, 22, 59, 59, 0)),
            &modes
        )
        .unwrap(),
        Value::from(-3_020_399_000_000_i64)
    );
}

#[test]
fn enums_sets_bits_binary_and_latin1() {
    let modes = TypeModes::default();
    let e = kind("enum", "enum('a','b''c')");
    assert_eq!(e, ColumnKind::Enum(vec!["a".into(), "b'c".into()]));
    assert_eq!(
        e.from_binlog(BinlogValue::Value(MyValue::Int(2)), &modes)
            .unwrap(),
        Value::from("b'c")
    );
    let s = kind("set", "set('x','y','z')");
    assert_eq!(
        s.from_binlog(BinlogValue::Value(MyValue::Bytes(vec![0b101])), &modes)
            .unwrap(),
        Value::from("x,z")
    );
    let bit = kind("bit", "bit(12)");
    assert_eq!(
        bit.from_text(&[0x0a, 0xbc], &modes).unwrap(),
        Value::String(BASE64.encode([0xbc, 0x0a]))
    );
    assert_eq!(
        kind("bit", "bit(1)").from_text(&[1], &modes).unwrap(),
        Value::Bool(true)
    );
    let binary = kind("binary", "binary(4)");
    assert_eq!(
        binary
            .from_binlog(BinlogValue::Value(MyValue::Bytes(vec![1])), &modes)
            .unwrap(),
        Value::String(BASE64.encode([1, 0, 0, 0]))
    );
    let latin = ColumnKind::Text {
        charset: Charset::Latin1,
    };
    assert_eq!(
        latin
            .from_binlog(BinlogValue::Value(MyValue::Bytes(vec![0xe9, 0x80])), &modes)
            .unwrap(),
        Value::from("é€")
    );
}

#[test]
fn float_keeps_its_short_form() {
    assert_eq!(
        ColumnKind::Float
            .from_binlog(
                BinlogValue::Value(MyValue::Float(1.1)),
                &TypeModes::default()
            )
            .unwrap(),
        Value::from(1.1)
    );
}

#[test]
fn spatial_types_are_debeziums_point_and_geometry_in_snapshot_and_binlog_alike() {
    let modes = TypeModes::default();
    assert_eq!(kind("point", "point"), ColumnKind::Point);
    for spatial in [
        "geometry",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
    ] {
        let k = kind(spatial, spatial);
        assert_eq!(k, ColumnKind::Geometry, "{spatial}");
        assert_eq!(
            k.schema(&modes).name.as_deref(),
            Some("io.debezium.data.geometry.Geometry")
        );
    }
    // POINT(1 2), SRID 4326: what SELECT and the binlog row image both hold.
    let mut stored = 4326_u32.to_le_bytes().to_vec();
    stored.push(1);
    stored.extend_from_slice(&1_u32.to_le_bytes());
    stored.extend_from_slice(&1.0_f64.to_le_bytes());
    stored.extend_from_slice(&2.0_f64.to_le_bytes());
    for k in [ColumnKind::Point, ColumnKind::Geometry] {
        let from_text = k.from_text(&stored, &modes).unwrap();
        let from_binlog = k
            .from_binlog(BinlogValue::Value(MyValue::Bytes(stored.clone())), &modes)
            .unwrap();
        assert_eq!(from_text, from_binlog);
        assert_eq!(from_text["wkb"], Value::String(BASE64.encode(&stored[4..])));
        assert_eq!(from_text["srid"], Value::from(4326));
    }
}
