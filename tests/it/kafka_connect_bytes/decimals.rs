//! Decimal bytes against Kafka Connect 4.3's own `JsonConverter`. No connector of
//! `connect-file` and no SMT of `connect-transforms` yields a Decimal, so a worker cannot
//! be made to write one from a file: the converter class from the same jars is driven
//! directly by a small Java program (written here, run with the JDK's single-file launcher)
//! with both `decimal.format`s and `schemas.enable` both ways, and its bytes are compared
//! with our converter's for the same values.

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use connect::converters::decimal_text::{DECIMAL, decimal_base64};
use connect::converters::{Converter, JSON_CONVERTER};
use connect_api::{ConfigMap, Field, Parameters, Schema, SchemaType};
use serde_json::{Value, json};
use tests::{START_HINT, services_dir, unique_name};

/// Prints, one base64 line each, the bytes of every decimal in `args` (`text:scale`) and
/// then of one struct, for each `decimal.format` and `schemas.enable`.
const JAVA_PROGRAM: &str = r#"
import java.math.BigDecimal;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.data.Decimal;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.json.JsonConverter;

public class DecimalBytes {
    public static void main(String[] args) {
        Base64.Encoder base64 = Base64.getEncoder();
        Schema order = SchemaBuilder.struct().name("shop.Order")
            .field("amount", Decimal.schema(2))
            .field("rates", SchemaBuilder.array(Decimal.schema(4)).build())
            .field("discount", Decimal.builder(2).optional().build())
            .build();
        Struct value = new Struct(order)
            .put("amount", new BigDecimal("1234.50"))
            .put("rates", List.of(new BigDecimal("0.0001"), new BigDecimal("-2.5000")))
            .put("discount", null);
        for (String format : new String[] {"BASE64", "NUMERIC"}) {
            for (String schemas : new String[] {"true", "false"}) {
                JsonConverter converter = new JsonConverter();
                converter.configure(Map.of("schemas.enable", schemas, "decimal.format", format), false);
                for (String arg : args) {
                    int colon = arg.lastIndexOf(':');
                    int scale = Integer.parseInt(arg.substring(colon + 1));
                    BigDecimal decimal = new BigDecimal(arg.substring(0, colon)).setScale(scale);
                    System.out.println(base64.encodeToString(
                        converter.fromConnectData("t", Decimal.schema(scale), decimal)));
                }
                System.out.println(base64.encodeToString(converter.fromConnectData("t", order, value)));
            }
        }
    }
}
"#;

/// `text:scale`, each exact at its scale.
const DECIMALS: &[(&str, i32)] = &[
    ("12.34", 2),
    ("12.30", 2),
    ("-0.001", 3),
    ("0", 0),
    ("0.000", 3),
    ("0.000000012", 9),
    ("0.0000001", 7),
    ("1E+3", -3),
    ("-128", 0),
    ("255", 0),
    ("99999999999999999999999999999999999999999.99", 2),
    ("-12345678901234567890123456789012345678901234567890", 0),
];

fn decimal_schema(scale: i32) -> Schema {
    let mut parameters = Parameters::new();
    parameters.insert("scale".into(), json!(scale.to_string()));
    Schema {
        version: Some(1),
        parameters: Some(parameters),
        ..Schema::new(SchemaType::Bytes).named(DECIMAL)
    }
}

fn unscaled(text: &str, scale: i32) -> Value {
    json!(decimal_base64(text, scale).unwrap())
}

/// The struct of the Java program, in our data model.
fn order() -> (Schema, Value) {
    let schema = Schema {
        name: Some("shop.Order".into()),
        ..Schema::structure(vec![
            Field::new("amount", decimal_schema(2)),
            Field::new(
                "rates",
                Schema {
                    items: Some(Box::new(decimal_schema(4))),
                    ..Schema::new(SchemaType::Array)
                },
            ),
            Field::new("discount", decimal_schema(2).optional()),
        ])
    };
    let value = json!({
        "amount": unscaled("1234.50", 2),
        "rates": [unscaled("0.0001", 4), unscaled("-2.5000", 4)],
        "discount": null,
    });
    (schema, value)
}

fn kafka_connect_lines() -> Vec<Vec<u8>> {
    let folder = std::env::temp_dir().join(unique_name("decimal_bytes"));
    std::fs::create_dir_all(&folder).unwrap();
    let source = folder.join("DecimalBytes.java");
    std::fs::write(&source, JAVA_PROGRAM).unwrap();
    let libs = services_dir().join("kafka/libs");
    let output = Command::new("java")
        .arg("-cp")
        .arg(format!("{}/*", libs.display()))
        .arg(&source)
        .args(
            DECIMALS
                .iter()
                .map(|(text, scale)| format!("{text}:{scale}")),
        )
        .output()
        .unwrap_or_else(|e| panic!("java does not start ({e}); {START_HINT}"));
    let _ = std::fs::remove_dir_all(&folder);
    assert!(
        output.status.success(),
        "the JsonConverter program failed (are Kafka's jars in {}? {START_HINT}):\n{}",
        libs.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| BASE64.decode(line).unwrap())
        .collect()
}

#[tokio::test]
async fn json_converter_decimals_match_kafka_connect() {
    let theirs = kafka_connect_lines();
    let (order_schema, order_value) = order();
    let mut ours = Vec::new();
    let mut labels = Vec::new();
    for format in ["BASE64", "NUMERIC"] {
        for schemas in ["true", "false"] {
            let config: ConfigMap = [
                ("value.converter", JSON_CONVERTER),
                ("value.converter.schemas.enable", schemas),
                ("value.converter.decimal.format", format),
            ]
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
            let converter =
                Converter::from_config(&config, "value.converter", Converter::String).unwrap();
            let cases = DECIMALS
                .iter()
                .map(|(text, scale)| {
                    (
                        format!("{text}:{scale}"),
                        decimal_schema(*scale),
                        unscaled(text, *scale),
                    )
                })
                .chain(std::iter::once((
                    "order".to_owned(),
                    order_schema.clone(),
                    order_value.clone(),
                )));
            for (label, schema, value) in cases {
                let bytes = converter
                    .from_connect("t", Some(&schema), &value)
                    .await
                    .unwrap();
                ours.push(bytes.unwrap_or_default());
                labels.push(format!("{format} schemas.enable={schemas} {label}"));
            }
        }
    }
    assert_eq!(theirs.len(), ours.len(), "one line per case");
    let differences: Vec<String> = labels
        .iter()
        .zip(theirs.iter().zip(&ours))
        .filter(|(_, (theirs, ours))| theirs != ours)
        .map(|(label, (theirs, ours))| {
            format!(
                "{label}:\n  Kafka Connect {}\n  ours          {}",
                String::from_utf8_lossy(theirs),
                String::from_utf8_lossy(ours)
            )
        })
        .collect();
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    // Our converter reads Kafka Connect's envelopes in either format back to the same data:
    // written again as BASE64 they are Kafka Connect's BASE64 bytes. A NUMERIC payload is
    // read through a 64-bit float (docs/connect.md): only decimals of up to 15 digits.
    let cases = DECIMALS.len() + 1;
    let line = |format: usize, schemas_enabled: bool, case: usize| {
        &theirs[(format * 2 + usize::from(!schemas_enabled)) * cases + case]
    };
    let base64_writer = Converter::json(true);
    for case in 0..cases {
        let short = DECIMALS
            .get(case)
            .is_none_or(|(text, _)| text.bytes().filter(u8::is_ascii_digit).count() <= 15);
        for format in [0, 1] {
            if format == 1 && !short {
                continue;
            }
            let (schema, value) = base64_writer
                .to_connect("t", Some(line(format, true, case)))
                .await
                .unwrap();
            let again = base64_writer
                .from_connect("t", schema.as_ref(), &value)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&again),
                String::from_utf8_lossy(line(0, true, case)),
                "{} read back",
                labels[(format * 2) * cases + case]
            );
        }
    }
}
