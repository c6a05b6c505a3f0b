//! Rows decoded with the columns they were written with.
//!
//! The schema loaded from `information_schema` is the table as it is *now*. A stream that
//! resumes behind a DDL (after a restart, or while lagging) reads row images written with
//! the columns of *then*: after `DROP COLUMN a` on `(id, a, b)`, an old image `(1, 'x', 'y')`
//! against the current `(id, b)` would put `'x'` into `b` — silently wrong data. With
//! `binlog_row_metadata=FULL` every table map event carries its column names, so the schema
//! of each event is rebuilt from them: columns that still exist keep their full type from
//! `information_schema`; columns that no longer exist get their type from the event.
//! Without the names (`binlog_row_metadata=MINIMAL`) the current schema is used, which is
//! right except across a DDL that did more than append columns.

use mysql_async::binlog::events::{OptionalMetadataField, TableMapEvent};
use mysql_async::consts::{ColumnType, GeometryType};

use crate::config::Filters;
use crate::schema::{self, Column, TableSchema};
use crate::types::{ColumnKind, TypeModes};

/// The event's column names, when the server writes them.
pub fn column_names(map: &TableMapEvent<'_>) -> Option<Vec<String>> {
    map.iter_optional_meta().find_map(|field| match field {
        Ok(OptionalMetadataField::ColumnName(names)) => names
            .iter_names()
            .map(|name| name.ok().map(|n| n.name().into_owned()))
            .collect(),
        _ => None,
    })
}

/// The schema rows of `map` were written with: `current` when the columns match, else
/// `current` re-cut to the event's columns. `Err` when the rows cannot be decoded
/// correctly: they carry more columns than the table has now and the server does not name
/// them, so which value belongs to which column is unknown.
pub fn schema_for_event(
    current: TableSchema,
    map: &TableMapEvent<'_>,
    prefix: &str,
    filters: &Filters,
    modes: &TypeModes,
) -> Result<TableSchema, String> {
    let Some(names) = column_names(map) else {
        let image_columns = usize::try_from(map.columns_count()).unwrap_or(usize::MAX);
        if image_columns > current.columns.len() {
            return Err(unnamed_extra_columns(&current, image_columns));
        }
        return Ok(current);
    };
    if names.len() == current.columns.len()
        && names
            .iter()
            .zip(&current.columns)
            .all(|(n, c)| *n == c.name)
    {
        return Ok(current);
    }
    tracing::info!(
        table = current.id(),
        event_columns = ?names,
        "row images carry other columns than the table has now (a later DDL); decoding with the event's columns"
    );
    let columns: Vec<Column> = names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            current
                .columns
                .iter()
                .find(|c| c.name == *name)
                .cloned()
                .unwrap_or_else(|| {
                    let (data_type, column_type) = type_names(map, index);
                    Column {
                        name: name.clone(),
                        kind: ColumnKind::from_information_schema(
                            data_type,
                            &column_type,
                            decimal_meta(map, index).map(|(p, _)| p),
                            decimal_meta(map, index).map(|(_, s)| s),
                            fractional_digits(map, index),
                            None,
                        ),
                        nullable: true,
                        column_type,
                        default: None,
                        included: filters.column(&current.database, &current.table, name),
                    }
                })
        })
        .collect();
    let primary_key = current
        .primary_key
        .iter()
        .filter_map(|i| current.columns.get(*i))
        .filter_map(|key| columns.iter().position(|c| c.name == key.name))
        .collect();
    Ok(schema::build(
        prefix,
        &current.database,
        &current.table,
        columns,
        primary_key,
        modes,
    ))
}

fn unnamed_extra_columns(current: &TableSchema, image_columns: usize) -> String {
    format!(
        "rows of {} in the binlog carry {image_columns} columns but the table has {} now: a \
         column was dropped after they were written, and with binlog_row_metadata=MINIMAL \
         the server does not name the columns, so decoding them with today's columns would \
         put values into the wrong fields. Set binlog_row_metadata=FULL on the server \
         (MariaDB 10.5+, MySQL 8.0.1+) for new events, and take a new snapshot (delete the \
         connector's offsets and use snapshot.mode=initial) to get past this point",
        current.id(),
        current.columns.len()
    )
}

/// (`DATA_TYPE`, `COLUMN_TYPE`) for a column known only from the event.
fn type_names(map: &TableMapEvent<'_>, index: usize) -> (&'static str, String) {
    let data_type = match map.get_column_type(index).ok().flatten() {
        Some(ColumnType::MYSQL_TYPE_TINY) => "tinyint",
        Some(ColumnType::MYSQL_TYPE_SHORT) => "smallint",
        Some(ColumnType::MYSQL_TYPE_INT24) => "mediumint",
        Some(ColumnType::MYSQL_TYPE_LONG) => "int",
        Some(ColumnType::MYSQL_TYPE_LONGLONG) => "bigint",
        Some(ColumnType::MYSQL_TYPE_FLOAT) => "float",
        Some(ColumnType::MYSQL_TYPE_DOUBLE) => "double",
        Some(ColumnType::MYSQL_TYPE_NEWDECIMAL | ColumnType::MYSQL_TYPE_DECIMAL) => "decimal",
        Some(ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE) => "date",
        Some(ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2) => "time",
        Some(ColumnType::MYSQL_TYPE_DATETIME | ColumnType::MYSQL_TYPE_DATETIME2) => "datetime",
        Some(ColumnType::MYSQL_TYPE_TIMESTAMP | ColumnType::MYSQL_TYPE_TIMESTAMP2) => "timestamp",
        Some(ColumnType::MYSQL_TYPE_YEAR) => "year",
        Some(
            ColumnType::MYSQL_TYPE_VARCHAR
            | ColumnType::MYSQL_TYPE_VAR_STRING
            | ColumnType::MYSQL_TYPE_STRING,
        ) => "varchar",
        Some(ColumnType::MYSQL_TYPE_JSON) => "json",
        Some(ColumnType::MYSQL_TYPE_ENUM) => "enum",
        Some(ColumnType::MYSQL_TYPE_SET) => "set",
        Some(ColumnType::MYSQL_TYPE_BIT) => "bit",
        Some(ColumnType::MYSQL_TYPE_GEOMETRY) => geometry_type_name(map, index),
        _ => "blob",
    };
    (data_type, data_type.to_owned())
}

/// `point` or `geometry` (which is all Debezium tells apart) for a spatial column, from the
/// event's geometry types (one per spatial column) when the server writes them.
fn geometry_type_name(map: &TableMapEvent<'_>, index: usize) -> &'static str {
    let spatial =
        |i: &usize| map.get_column_type(*i).ok().flatten() == Some(ColumnType::MYSQL_TYPE_GEOMETRY);
    let spatial_before = (0..index).filter(spatial).count();
    let point = map.iter_optional_meta().any(|field| match field {
        Ok(OptionalMetadataField::GeometryType(types)) => matches!(
            types.iter_geometry_types().nth(spatial_before),
            Some(Ok(GeometryType::GEOM_POINT))
        ),
        _ => false,
    });
    if point { "point" } else { "geometry" }
}

fn decimal_meta(map: &TableMapEvent<'_>, index: usize) -> Option<(u32, u32)> {
    match map.get_column_type(index).ok().flatten()? {
        ColumnType::MYSQL_TYPE_NEWDECIMAL => {
            let meta = map.get_column_metadata(index)?;
            Some((u32::from(*meta.first()?), u32::from(*meta.get(1)?)))
        }
        _ => None,
    }
}

fn fractional_digits(map: &TableMapEvent<'_>, index: usize) -> Option<u32> {
    match map.get_column_type(index).ok().flatten()? {
        ColumnType::MYSQL_TYPE_TIME2
        | ColumnType::MYSQL_TYPE_DATETIME2
        | ColumnType::MYSQL_TYPE_TIMESTAMP2 => map
            .get_column_metadata(index)
            .and_then(|m| m.first().copied())
            .map(u32::from),
        _ => None,
    }
}
