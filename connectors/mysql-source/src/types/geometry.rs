//! Spatial columns as Debezium's binlog connectors write them.
//!
//! MySQL and MariaDB store a spatial value as its SRID (4 bytes, little-endian) followed by
//! the OGC Well-Known Binary; a SELECT returns those bytes and the binlog row image carries
//! the same bytes, so one decoder serves the snapshot and the stream.
//!
//! Debezium 3.5 (`BinlogValueConverters`, `BinlogGeometry`) maps POINT to
//! `io.debezium.data.geometry.Point` (`x`, `y` from the WKB, plus `wkb` and `srid`) and every
//! other spatial type to `io.debezium.data.geometry.Geometry` (`wkb`, `srid`). SRID 0 is
//! written as a null `srid`. The Geometry struct schema is optional even for a NOT NULL
//! column (its builder says so); the Point schema is optional only for a nullable column.
//! A POINT value whose WKB is not a 2D point fails the record, as it fails Debezium's task.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use connect_api::{Field, Schema, SchemaType};
use serde_json::{Map, Value};

const GEOMETRY: &str = "io.debezium.data.geometry.Geometry";
const POINT: &str = "io.debezium.data.geometry.Point";
/// Byte order mark, type and two doubles: a 2D point's WKB.
const WKB_POINT_LENGTH: usize = 1 + 4 + 8 + 8;
const WKB_POINT_TYPE: u32 = 1;

fn struct_schema(name: &str, doc: &str, fields: Vec<Field>) -> Schema {
    let mut schema = Schema::structure(fields).named(name);
    schema.version = Some(1);
    schema.doc = Some(doc.to_owned());
    schema
}

/// `Geometry.builder()`: `{wkb: bytes, srid: optional int32}`, itself optional.
pub(super) fn geometry_schema() -> Schema {
    struct_schema(
        GEOMETRY,
        "Geometry",
        vec![
            Field::new("wkb", Schema::new(SchemaType::Bytes)),
            Field::new("srid", Schema::new(SchemaType::Int32).optional()),
        ],
    )
    .optional()
}

/// `Point.builder()`: `{x: double, y: double, wkb: optional bytes, srid: optional int32}`.
pub(super) fn point_schema() -> Schema {
    struct_schema(
        POINT,
        "Geometry (POINT)",
        vec![
            Field::new("x", Schema::new(SchemaType::Double)),
            Field::new("y", Schema::new(SchemaType::Double)),
            Field::new("wkb", Schema::new(SchemaType::Bytes).optional()),
            Field::new("srid", Schema::new(SchemaType::Int32).optional()),
        ],
    )
}

/// The stored form split into the SRID (null when 0, as Debezium writes it) and the WKB.
fn split(stored: &[u8]) -> Result<(Value, &[u8]), String> {
    let Some((srid, wkb)) = stored.split_first_chunk::<4>() else {
        return Err(format!(
            "a spatial value of {} bytes has no SRID (4 bytes) and WKB",
            stored.len()
        ));
    };
    let srid = i32::from_le_bytes(*srid);
    Ok((
        if srid == 0 {
            Value::Null
        } else {
            Value::from(srid)
        },
        wkb,
    ))
}

/// A GEOMETRY, LINESTRING, POLYGON… value: `{wkb, srid}`.
pub(super) fn geometry_value(stored: &[u8]) -> Result<Value, String> {
    let (srid, wkb) = split(stored)?;
    let mut value = Map::new();
    value.insert("wkb".to_owned(), Value::String(BASE64.encode(wkb)));
    value.insert("srid".to_owned(), srid);
    Ok(Value::Object(value))
}

/// A POINT value: `{x, y, wkb, srid}`, the coordinates read from the WKB in its own byte
/// order.
pub(super) fn point_value(stored: &[u8]) -> Result<Value, String> {
    let (srid, wkb) = split(stored)?;
    let (x, y) = point_coordinates(wkb)?;
    let mut value = Map::new();
    value.insert("x".to_owned(), Value::from(x));
    value.insert("y".to_owned(), Value::from(y));
    value.insert("wkb".to_owned(), Value::String(BASE64.encode(wkb)));
    value.insert("srid".to_owned(), srid);
    Ok(Value::Object(value))
}

fn point_coordinates(wkb: &[u8]) -> Result<(f64, f64), String> {
    let not_a_point = || {
        format!(
            "a POINT value's WKB is not a 2D point ({} bytes, {WKB_POINT_LENGTH} expected)",
            wkb.len()
        )
    };
    let bytes: &[u8; WKB_POINT_LENGTH] = wkb.try_into().map_err(|_| not_a_point())?;
    // The byte order mark: 1 little-endian, 0 big-endian (Debezium: anything but 0 is little).
    let little_endian = bytes[0] != 0;
    let mut type_bytes = [0; 4];
    type_bytes.copy_from_slice(&bytes[1..5]);
    let double_at = |offset: usize| {
        let mut word = [0; 8];
        word.copy_from_slice(&bytes[offset..offset + 8]);
        if little_endian {
            f64::from_le_bytes(word)
        } else {
            f64::from_be_bytes(word)
        }
    };
    let geometry_type = if little_endian {
        u32::from_le_bytes(type_bytes)
    } else {
        u32::from_be_bytes(type_bytes)
    };
    let (x, y) = (double_at(5), double_at(13));
    if geometry_type != WKB_POINT_TYPE {
        return Err(format!(
            "a POINT value's WKB has geometry type {geometry_type}, not 1 (a 2D point)"
        ));
    }
    Ok((x, y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `POINT(1 2)` with SRID 4326, as `SELECT` and the binlog return it.
    fn stored_point(srid: u32) -> Vec<u8> {
        let mut out = srid.to_le_bytes().to_vec();
        out.push(1);
        out.extend_from_slice(&1_u32.to_le_bytes());
        out.extend_from_slice(&1.0_f64.to_le_bytes());
        out.extend_from_slice(&2.0_f64.to_le_bytes());
        out
    }

    #[test]
    fn a_point_has_its_coordinates_wkb_and_srid() {
        let stored = stored_point(4326);
        let wkb = BASE64.encode(&stored[4..]);
        assert_eq!(
            point_value(&stored).unwrap(),
            json!({"x": 1.0, "y": 2.0, "wkb": wkb, "srid": 4326})
        );
    }

    #[test]
    fn srid_zero_is_null() {
        let stored = stored_point(0);
        assert_eq!(point_value(&stored).unwrap()["srid"], Value::Null);
        assert_eq!(geometry_value(&stored).unwrap()["srid"], Value::Null);
    }

    #[test]
    fn a_big_endian_point_is_read_in_its_own_order() {
        let mut stored = 0_u32.to_le_bytes().to_vec();
        stored.push(0);
        stored.extend_from_slice(&1_u32.to_be_bytes());
        stored.extend_from_slice(&(-3.5_f64).to_be_bytes());
        stored.extend_from_slice(&0.25_f64.to_be_bytes());
        let value = point_value(&stored).unwrap();
        assert_eq!(
            (value["x"].as_f64(), value["y"].as_f64()),
            (Some(-3.5), Some(0.25))
        );
    }

    #[test]
    fn a_geometry_keeps_the_wkb_after_the_srid() {
        // LINESTRING(0 0, 1 1) with SRID 3857.
        let mut stored = 3857_u32.to_le_bytes().to_vec();
        let mut wkb = vec![1];
        wkb.extend_from_slice(&2_u32.to_le_bytes());
        wkb.extend_from_slice(&2_u32.to_le_bytes());
        for coordinate in [0.0_f64, 0.0, 1.0, 1.0] {
            wkb.extend_from_slice(&coordinate.to_le_bytes());
        }
        stored.extend_from_slice(&wkb);
        assert_eq!(
            geometry_value(&stored).unwrap(),
            json!({"wkb": BASE64.encode(&wkb), "srid": 3857})
        );
    }

    #[test]
    fn a_point_column_holding_no_point_is_an_error() {
        let mut stored = 0_u32.to_le_bytes().to_vec();
        stored.extend_from_slice(&[1, 7, 0, 0, 0, 0, 0, 0, 0]);
        assert!(point_value(&stored).unwrap_err().contains("not a 2D point"));
        assert!(geometry_value(&[1, 2]).unwrap_err().contains("no SRID"));
    }

    #[test]
    fn schemas_are_debeziums() {
        let geometry = serde_json::to_value(geometry_schema()).unwrap();
        assert_eq!(
            geometry,
            json!({"type": "struct", "fields": [
                {"type": "bytes", "optional": false, "field": "wkb"},
                {"type": "int32", "optional": true, "field": "srid"}],
                "optional": true, "name": GEOMETRY, "version": 1, "doc": "Geometry"})
        );
        let point = serde_json::to_value(point_schema()).unwrap();
        assert_eq!(
            point,
            json!({"type": "struct", "fields": [
                {"type": "double", "optional": false, "field": "x"},
                {"type": "double", "optional": false, "field": "y"},
                {"type": "bytes", "optional": true, "field": "wkb"},
                {"type": "int32", "optional": true, "field": "srid"}],
                "optional": false, "name": POINT, "version": 1, "doc": "Geometry (POINT)"})
        );
    }
}
