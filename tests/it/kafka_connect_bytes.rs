//! The bytes our Connect worker writes are the bytes Apache Kafka Connect 4.3 writes for the
//! same source data and the same connector config (issue #18): a migration between the two
//! on the same topics must not change a record that did not change (compaction,
//! deduplication by hash and byte diffs see no difference).
//!
//! One real Kafka Connect worker (`ConnectDistributed` from the Maven Central jars that
//! `scripts/services up` fetches, `connect-file` and `connect-transforms` on its classpath)
//! and one of ours run the same `FileStreamSourceConnector` configs, each into topics of its
//! own. Every record is compared byte for byte: key, value and headers. The variants cover
//! JsonConverter with `schemas.enable` both ways, StringConverter, ByteArrayConverter (which
//! refuses the strings FileStreamSource emits, on both workers), and SMT chains that build
//! structs, numbers, logical types and headers (`HoistField`, `InsertField`, `ValueToKey`,
//! `Cast`, `TimestampConverter`, `InsertHeader`, `HeaderFrom`), so schema objects, field
//! order and Java's number spelling are exercised.
//!
//! What cannot be exercised here: no connector of `connect-file` and no SMT of
//! `connect-transforms` yields a Decimal (Cast has no Decimal target), so `decimal.format`
//! is only set (it must not change anything else) — Decimal bytes are compared with the
//! same Kafka Connect jars in `json_converter_decimals_match_kafka_connect`. Values whose
//! Java spelling depends on the JDK (JDK 17's `Double.toString` is not always the shortest
//! form, e.g. `1.0E23` is `9.999999999999999E22` there) are left out: ours is the JDK 19+
//! form (docs/connect.md).

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Headers;
use reqwest::Method;
use serde_json::{Value, json};
use tests::kafka_connect::{KafkaConnectCluster, KafkaConnectProcess};
use tests::{START_HINT, Services, create_topic, services_dir, unique_name};

use crate::connect_support::{ClusterNames, TestWorker, call, clients, get};

const FILE_SOURCE: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";
const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";
const STRING: &str = "org.apache.kafka.connect.storage.StringConverter";
const BYTE_ARRAY: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";
const SMT: &str = "org.apache.kafka.connect.transforms.";

/// The files the connectors read; each line becomes a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Input {
    /// Text JSON must escape, multi-byte UTF-8, line-ending rules, a long line.
    Text,
    /// What `Double.parseDouble` / `Float.parseFloat` read.
    Numbers,
    /// What `Byte.parseByte` reads.
    SmallIntegers,
    /// What `Long.parseLong` reads and `Byte.parseByte` refuses.
    LargeIntegers,
    /// What `Boolean.parseBoolean` reads.
    Booleans,
    /// `yyyy-MM-dd HH:mm:ss` in UTC.
    Timestamps,
}

impl Input {
    const ALL: [Input; 6] = [
        Input::Text,
        Input::Numbers,
        Input::SmallIntegers,
        Input::LargeIntegers,
        Input::Booleans,
        Input::Timestamps,
    ];

    fn contents(self) -> Vec<u8> {
        let lines: Vec<Vec<u8>> = match self {
            Input::Text => text_lines(),
            Input::Numbers => [
                "1.5",
                "0.1",
                "-0",
                "0",
                "100",
                "1e10",
                "1E-4",
                "0.001",
                "9999999",
                "10000000",
                "-2.5E-7",
                "1.7976931348623157E308",
                "3.4028235E38",
                "NaN",
                "Infinity",
                "-Infinity",
                " 2.5 ",
                "+7",
                "0.3",
                "4.35",
                "33.3",
                "16777217",
            ]
            .map(|l| l.as_bytes().to_vec())
            .to_vec(),
            Input::SmallIntegers => ["0", "-1", "127", "-128", "+5", "42", "-0"]
                .map(|l| l.as_bytes().to_vec())
                .to_vec(),
            Input::LargeIntegers => [
                "9223372036854775807",
                "-9223372036854775808",
                "2147483648",
                "-2147483649",
                "0",
            ]
            .map(|l| l.as_bytes().to_vec())
            .to_vec(),
            Input::Booleans => ["true", "TRUE", "True", " true", "yes", "1", "false", ""]
                .map(|l| l.as_bytes().to_vec())
                .to_vec(),
            Input::Timestamps => [
                "2024-02-29 13:45:00",
                "1970-01-01 00:00:00",
                "1969-12-31 23:59:59",
                "2038-01-19 03:14:08",
                "1900-03-01 12:00:00",
            ]
            .map(|l| l.as_bytes().to_vec())
            .to_vec(),
        };
        let mut contents = Vec::new();
        for line in lines {
            contents.extend_from_slice(&line);
            // Text lines carry their own terminator (\n, \r\n, \r, or none at the end).
            if self != Input::Text {
                contents.push(b'\n');
            }
        }
        contents
    }
}

/// Lines with their terminators: what FileStreamSourceTask splits on is part of the test.
fn text_lines() -> Vec<Vec<u8>> {
    let long: String = (0..700).map(|i| format!("é{i} ")).collect();
    let mut lines: Vec<Vec<u8>> = [
        "plain ascii line\n",
        "ünïcödé — café ☕ 日本語\n",
        "emoji 😀 and a clef 𝄞\n",
        "quote \" backslash \\ slash / tab\t end\n",
        "controls \u{0} \u{1} \u{8} \u{b} \u{c} \u{1b} \u{1f} del \u{7f}\n",
        "separators \u{2028} and \u{2029} and a bom \u{feff}\n",
        "\n",
        "   \n",
        "crlf ending\r\n",
        "lone cr\rsplits the line\n",
        "{\"looks\":\"like json\",\"n\":1}\n",
        "42\n",
        "null\n",
    ]
    .map(|l| l.as_bytes().to_vec())
    .to_vec();
    lines.push(b"invalid utf-8 \xff\xfe and truncated \xe2\x82 x\n".to_vec());
    lines.push(format!("{long}\n").into_bytes());
    lines.push(b"last line, no newline: never emitted".to_vec());
    lines
}

/// How many records FileStreamSourceTask emits for `contents`: a line ends at `\n`, `\r`
/// or `\r\n`; an unterminated tail waits for its end.
fn kafka_line_count(contents: &[u8]) -> usize {
    let mut count = 0;
    let mut index = 0;
    while index < contents.len() {
        match contents[index] {
            b'\n' => count += 1,
            b'\r' => {
                count += 1;
                if contents.get(index + 1) == Some(&b'\n') {
                    index += 1;
                }
            }
            _ => {}
        }
        index += 1;
    }
    count
}

/// What a variant must produce on both workers.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// One record per line, byte-identical on both sides.
    Records,
    /// The task fails on both workers with this text in its trace; nothing is written.
    TaskFails(&'static str),
}

#[derive(Debug)]
struct Variant {
    name: &'static str,
    input: Input,
    settings: Settings,
    expect: Expect,
    /// A struct field whose number differs between the two runs (the record timestamp):
    /// its digits are replaced by 0 on both sides before comparing.
    masked_field: Option<&'static str>,
}

/// Connector settings: key, value.
type Settings = Vec<(String, String)>;

fn settings(pairs: &[(&str, &str)]) -> Settings {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

fn converters(key: &str, value: &str) -> Settings {
    settings(&[("key.converter", key), ("value.converter", value)])
}

fn json_converters(schemas: bool) -> Settings {
    let mut settings = converters(JSON, JSON);
    let schemas = schemas.to_string();
    settings.extend(self::settings(&[
        ("key.converter.schemas.enable", &schemas),
        ("value.converter.schemas.enable", &schemas),
    ]));
    settings
}

/// One SMT of a chain: alias, class suffix (`Cast$Value`), settings.
type Step<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// `transforms=<aliases>` and each alias's settings; the type is `SMT` + the class suffix.
fn chain(steps: &[Step<'_>]) -> Settings {
    let aliases: Vec<&str> = steps.iter().map(|(alias, _, _)| *alias).collect();
    let mut settings = vec![("transforms".to_owned(), aliases.join(","))];
    for (alias, class, keys) in steps {
        settings.push((format!("transforms.{alias}.type"), format!("{SMT}{class}")));
        for (key, value) in *keys {
            settings.push((format!("transforms.{alias}.{key}"), (*value).to_owned()));
        }
    }
    settings
}

fn records(name: &'static str, input: Input, settings: Settings) -> Variant {
    Variant {
        name,
        input,
        settings,
        expect: Expect::Records,
        masked_field: None,
    }
}

fn with(mut base: Settings, more: Settings) -> Settings {
    base.extend(more);
    base
}

fn variants() -> Vec<Variant> {
    let hoist_line = ("hoist", "HoistField$Value", &[("field", "line")][..]);
    let hoist_number = ("hoist", "HoistField$Value", &[("field", "n")][..]);
    let struct_chain = chain(&[
        hoist_line,
        (
            "insert",
            "InsertField$Value",
            &[
                ("static.field", "origin!"),
                ("static.value", "file-stream"),
                ("partition.field", "partition"),
                ("timestamp.field", "ts"),
            ],
        ),
        ("key", "ValueToKey", &[("fields", "line")]),
        (
            "header",
            "InsertHeader",
            &[("header", "origin"), ("value.literal", "file-stream")],
        ),
        (
            "copy",
            "HeaderFrom$Value",
            &[
                ("fields", "line"),
                ("headers", "line"),
                ("operation", "copy"),
            ],
        ),
    ]);
    let timestamp_format = "yyyy-MM-dd HH:mm:ss";
    vec![
        records(
            "json_envelope",
            Input::Text,
            // The key converter's schemas.enable is left to its default (true);
            // decimal.format only matters for Decimal values, of which there are none.
            settings(&[
                ("key.converter", JSON),
                ("value.converter", JSON),
                ("value.converter.schemas.enable", "true"),
                ("value.converter.decimal.format", "NUMERIC"),
            ]),
        ),
        records("json_plain", Input::Text, json_converters(false)),
        records("string", Input::Text, converters(STRING, STRING)),
        Variant {
            name: "byte_array",
            input: Input::Text,
            settings: converters(BYTE_ARRAY, BYTE_ARRAY),
            expect: Expect::TaskFails("Invalid schema type for ByteArrayConverter: STRING"),
            masked_field: None,
        },
        Variant {
            name: "struct_envelope",
            input: Input::Text,
            settings: with(json_converters(true), struct_chain.clone()),
            expect: Expect::Records,
            masked_field: Some("ts"),
        },
        Variant {
            name: "struct_plain",
            input: Input::Text,
            settings: with(json_converters(false), struct_chain),
            expect: Expect::Records,
            masked_field: Some("ts"),
        },
        records(
            "nested_struct",
            Input::Text,
            with(
                json_converters(true),
                chain(&[
                    hoist_line,
                    ("outer", "HoistField$Value", &[("field", "record")]),
                    (
                        "insert",
                        "InsertField$Value",
                        &[("static.field", "kind"), ("static.value", "text")],
                    ),
                ]),
            ),
        ),
        records(
            "flattened",
            Input::Text,
            with(
                json_converters(true),
                chain(&[
                    hoist_line,
                    ("outer", "HoistField$Value", &[("field", "record")]),
                    (
                        "insert",
                        "InsertField$Value",
                        &[("static.field", "kind"), ("static.value", "text")],
                    ),
                    ("flatten", "Flatten$Value", &[("delimiter", "_")]),
                    (
                        "rename",
                        "ReplaceField$Value",
                        &[("renames", "record_line:text")],
                    ),
                ]),
            ),
        ),
        records(
            "doubles",
            Input::Numbers,
            with(
                json_converters(true),
                chain(&[("cast", "Cast$Value", &[("spec", "float64")])]),
            ),
        ),
        records(
            "doubles_as_text",
            Input::Numbers,
            with(
                converters(STRING, STRING),
                chain(&[
                    ("double", "Cast$Value", &[("spec", "float64")]),
                    ("text", "Cast$Value", &[("spec", "string")]),
                ]),
            ),
        ),
        records(
            "floats_in_struct",
            Input::Numbers,
            with(
                json_converters(true),
                chain(&[
                    hoist_number,
                    ("cast", "Cast$Value", &[("spec", "n:float32")]),
                ]),
            ),
        ),
        records(
            "doubles_in_struct_and_header",
            Input::Numbers,
            with(
                json_converters(false),
                chain(&[
                    hoist_number,
                    ("cast", "Cast$Value", &[("spec", "n:float64")]),
                    (
                        "copy",
                        "HeaderFrom$Value",
                        &[("fields", "n"), ("headers", "n"), ("operation", "copy")],
                    ),
                ]),
            ),
        ),
        records(
            "int8",
            Input::SmallIntegers,
            with(
                json_converters(true),
                chain(&[("cast", "Cast$Value", &[("spec", "int8")])]),
            ),
        ),
        records(
            "int64_in_struct",
            Input::LargeIntegers,
            with(
                json_converters(true),
                chain(&[hoist_number, ("cast", "Cast$Value", &[("spec", "n:int64")])]),
            ),
        ),
        Variant {
            name: "int8_out_of_range",
            input: Input::LargeIntegers,
            settings: with(
                json_converters(true),
                chain(&[("cast", "Cast$Value", &[("spec", "int8")])]),
            ),
            expect: Expect::TaskFails("was out of range for requested data type"),
            masked_field: None,
        },
        records(
            "booleans",
            Input::Booleans,
            with(
                json_converters(true),
                chain(&[("cast", "Cast$Value", &[("spec", "boolean")])]),
            ),
        ),
        records(
            "timestamps_in_struct",
            Input::Timestamps,
            with(
                json_converters(true),
                chain(&[
                    ("hoist", "HoistField$Value", &[("field", "at")]),
                    (
                        "convert",
                        "TimestampConverter$Value",
                        &[
                            ("field", "at"),
                            ("target.type", "Timestamp"),
                            ("format", timestamp_format),
                        ],
                    ),
                ]),
            ),
        ),
        records(
            "dates",
            Input::Timestamps,
            with(
                json_converters(true),
                chain(&[(
                    "convert",
                    "TimestampConverter$Value",
                    &[("target.type", "Date"), ("format", timestamp_format)],
                )]),
            ),
        ),
        records(
            "header_literals",
            Input::Booleans,
            with(
                converters(STRING, STRING),
                chain(&[
                    (
                        "text",
                        "InsertHeader",
                        &[("header", "text"), ("value.literal", "plain text")],
                    ),
                    (
                        "int",
                        "InsertHeader",
                        &[("header", "int"), ("value.literal", "42")],
                    ),
                    (
                        "fraction",
                        "InsertHeader",
                        &[("header", "fraction"), ("value.literal", "1.5")],
                    ),
                    (
                        "exponent",
                        "InsertHeader",
                        &[("header", "exponent"), ("value.literal", "1e10")],
                    ),
                    (
                        "bool",
                        "InsertHeader",
                        &[("header", "bool"), ("value.literal", "true")],
                    ),
                    (
                        "list",
                        "InsertHeader",
                        &[("header", "list"), ("value.literal", "[1,2,3]")],
                    ),
                    (
                        "whole",
                        "InsertHeader",
                        &[("header", "whole"), ("value.literal", "1.0")],
                    ),
                    (
                        "padded",
                        "InsertHeader",
                        &[("header", "padded"), ("value.literal", " 007 ")],
                    ),
                    (
                        "pi",
                        "InsertHeader",
                        &[("header", "pi"), ("value.literal", "3.14159265358979")],
                    ),
                    (
                        "small",
                        "InsertHeader",
                        &[("header", "small"), ("value.literal", "-1E-5")],
                    ),
                ]),
            ),
        ),
        Variant {
            name: "offset_field_on_a_source",
            input: Input::Text,
            settings: with(
                json_converters(true),
                chain(&[
                    hoist_line,
                    ("insert", "InsertField$Value", &[("offset.field", "offset")]),
                ]),
            ),
            expect: Expect::TaskFails(
                "Only SinkRecord supported for [field insertion], found: org.apache.kafka.connect.source.SourceRecord",
            ),
            masked_field: None,
        },
    ]
}

/// A record as it is on the topic.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TopicRecord {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

impl TopicRecord {
    fn masked(mut self, field: Option<&str>) -> Self {
        if let Some(field) = field {
            self.key = self.key.map(|b| mask_number(&b, field));
            self.value = self.value.map(|b| mask_number(&b, field));
        }
        self
    }
}

/// `"<field>":<digits>` → `"<field>":0`.
fn mask_number(bytes: &[u8], field: &str) -> Vec<u8> {
    let marker = format!("\"{field}\":");
    let marker = marker.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index..].starts_with(marker) {
            out.extend_from_slice(marker);
            index += marker.len();
            let digits = bytes[index..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits > 0 {
                out.push(b'0');
                index += digits;
            }
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    out
}

fn shown(bytes: Option<&Vec<u8>>) -> String {
    bytes.map_or("null".to_owned(), |b| {
        format!("{:?}", String::from_utf8_lossy(b))
    })
}

/// Reads every topic from the start until each holds its expected count (then 2 s more, so
/// that a record too many shows up too), or until Kafka Connect's topics are complete and
/// nothing arrived for 5 s (ours fell short: the comparison says so), at most 90 s.
async fn read_topics(
    expected: &BTreeMap<String, usize>,
    kafka_connect_topics: &[&String],
) -> BTreeMap<String, Vec<TopicRecord>> {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", Services::from_env().kafka_bootstrap)
        .set("group.id", unique_name("kc_bytes_reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let topics: Vec<&str> = expected.keys().map(String::as_str).collect();
    consumer.subscribe(&topics).unwrap();
    let mut seen: BTreeMap<String, Vec<TopicRecord>> =
        expected.keys().map(|t| (t.clone(), Vec::new())).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut complete_since: Option<tokio::time::Instant> = None;
    let mut last_arrival = tokio::time::Instant::now();
    loop {
        let complete = |topics: &[&String]| {
            topics
                .iter()
                .all(|topic| seen[*topic].len() >= expected[*topic])
        };
        let all_topics: Vec<&String> = expected.keys().collect();
        if complete(&all_topics) {
            let since = *complete_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= Duration::from_secs(2) {
                return seen;
            }
        } else {
            complete_since = None;
            let theirs_complete = complete(kafka_connect_topics);
            if (theirs_complete && last_arrival.elapsed() >= Duration::from_secs(5))
                || tokio::time::Instant::now() > deadline
            {
                return seen;
            }
        }
        if let Ok(Ok(message)) =
            tokio::time::timeout(Duration::from_millis(300), consumer.recv()).await
        {
            last_arrival = tokio::time::Instant::now();
            let headers = message
                .headers()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(records) = seen.get_mut(message.topic()) {
                records.push(TopicRecord {
                    key: message.key().map(<[u8]>::to_vec),
                    value: message.payload().map(<[u8]>::to_vec),
                    headers,
                });
            }
        }
    }
}

/// The differences between the two sides of one variant, described for the failure report.
fn differences(
    variant: &Variant,
    kafka_connect: &[TopicRecord],
    ours: &[TopicRecord],
) -> Vec<String> {
    let mut out = Vec::new();
    if kafka_connect.len() != ours.len() {
        out.push(format!(
            "{}: Kafka Connect wrote {} records, ours {}",
            variant.name,
            kafka_connect.len(),
            ours.len()
        ));
    }
    for (index, (theirs, ours)) in kafka_connect.iter().zip(ours).enumerate() {
        let theirs = theirs.clone().masked(variant.masked_field);
        let ours = ours.clone().masked(variant.masked_field);
        if theirs.key != ours.key {
            out.push(format!(
                "{} #{index} key:\n  Kafka Connect {}\n  ours          {}",
                variant.name,
                shown(theirs.key.as_ref()),
                shown(ours.key.as_ref())
            ));
        }
        if theirs.value != ours.value {
            out.push(format!(
                "{} #{index} value:\n  Kafka Connect {}\n  ours          {}",
                variant.name,
                shown(theirs.value.as_ref()),
                shown(ours.value.as_ref())
            ));
        }
        if theirs.headers != ours.headers {
            let show = |headers: &[(String, Option<Vec<u8>>)]| -> Vec<String> {
                headers
                    .iter()
                    .map(|(key, value)| format!("{key}={}", shown(value.as_ref())))
                    .collect()
            };
            out.push(format!(
                "{} #{index} headers:\n  Kafka Connect {:?}\n  ours          {:?}",
                variant.name,
                show(&theirs.headers),
                show(&ours.headers)
            ));
        }
    }
    out
}

/// The task's state and trace once it FAILED, or its last state after `within`.
async fn task_outcome(base: &str, connector: &str, within: Duration) -> (String, String) {
    let url = format!("{base}/connectors/{connector}/status");
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (status, body) = get(&url).await;
        let task = &body["tasks"][0];
        let state = task["state"].as_str().unwrap_or_default().to_owned();
        if (status == 200 && state == "FAILED") || tokio::time::Instant::now() > deadline {
            return (state, task["trace"].as_str().unwrap_or_default().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn kafka_connect_libs_hold_connect_file() {
    let libs = services_dir().join("kafka/libs");
    let found = std::fs::read_dir(&libs)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with("connect-file-"))
        })
        .unwrap_or(false);
    assert!(
        found,
        "{} has no connect-file jar (FileStreamSourceConnector): `scripts/services up` fetches it \
         (scripts/testbed/kafka/pom.xml); {START_HINT}",
        libs.display()
    );
}

#[tokio::test]
async fn kafka_connect_and_our_worker_write_the_same_bytes() {
    kafka_connect_libs_hold_connect_file();
    let clients = clients().await;
    let folder = std::env::temp_dir().join(unique_name("kc_bytes"));
    std::fs::create_dir_all(&folder).unwrap();
    let mut files = BTreeMap::new();
    for input in Input::ALL {
        let path = folder.join(format!("{input:?}.txt"));
        std::fs::write(&path, input.contents()).unwrap();
        files.insert(input, path);
    }

    let variants = variants();
    // Topics of each side, named per run; one partition keeps the file's order.
    let topics: Vec<(String, String)> = variants
        .iter()
        .map(|v| {
            (
                unique_name(&format!("kcb_{}_kc", v.name)),
                unique_name(&format!("kcb_{}_ours", v.name)),
            )
        })
        .collect();
    for (theirs, ours) in &topics {
        create_topic(&clients, theirs, 1).await;
        create_topic(&clients, ours, 1).await;
    }

    let kafka_connect_names = ClusterNames::unique();
    let cluster = KafkaConnectCluster {
        bootstrap: Services::from_env().kafka_bootstrap,
        group_id: kafka_connect_names.group_id.clone(),
        config_topic: kafka_connect_names.configs.clone(),
        offset_topic: kafka_connect_names.offsets.clone(),
        status_topic: kafka_connect_names.statuses.clone(),
        heap: "-Xmx512m".to_owned(),
    };
    let our_names = ClusterNames::unique();
    let (kafka_connect, ours) = tokio::join!(
        KafkaConnectProcess::start_listing(&cluster, FILE_SOURCE, Duration::from_secs(120)),
        TestWorker::start(&clients, &our_names),
    );

    let mut report = Vec::new();
    let mut refused_by_ours = Vec::new();
    for (variant, (their_topic, our_topic)) in variants.iter().zip(&topics) {
        for (base, topic) in [
            (kafka_connect.url.as_str(), their_topic),
            (ours.base.as_str(), our_topic),
        ] {
            let mut config = serde_json::Map::new();
            config.insert("connector.class".into(), json!(FILE_SOURCE));
            config.insert("tasks.max".into(), json!("1"));
            config.insert(
                "file".into(),
                json!(files[&variant.input].to_string_lossy()),
            );
            config.insert("topic".into(), json!(topic));
            for (key, value) in &variant.settings {
                config.insert(key.clone(), json!(value));
            }
            let (status, body) = call(
                Method::POST,
                &format!("{base}/connectors"),
                Some(json!({"name": variant.name, "config": Value::Object(config)})),
            )
            .await;
            if topic == our_topic && status != 201 {
                report.push(format!(
                    "{}: our worker refuses the config: {status} {body}",
                    variant.name
                ));
                refused_by_ours.push(variant.name);
            } else {
                assert_eq!(status, 201, "{} on Kafka Connect: {body}", variant.name);
            }
        }
    }

    let mut expected = BTreeMap::new();
    for (variant, (theirs, ours_topic)) in variants.iter().zip(&topics) {
        let count = match variant.expect {
            Expect::Records => kafka_line_count(&variant.input.contents()),
            Expect::TaskFails(_) => 0,
        };
        expected.insert(theirs.clone(), count);
        let ours_count = if refused_by_ours.contains(&variant.name) {
            0
        } else {
            count
        };
        expected.insert(ours_topic.clone(), ours_count);
    }
    for (variant, _) in variants.iter().zip(&topics) {
        if let Expect::TaskFails(text) = variant.expect {
            let (their_state, their_trace) =
                task_outcome(&kafka_connect.url, variant.name, Duration::from_secs(60)).await;
            assert!(
                their_state == "FAILED" && their_trace.contains(text),
                "{}: Kafka Connect's task is {their_state}, its trace does not say {text:?}:\n{their_trace}",
                variant.name
            );
            if refused_by_ours.contains(&variant.name) {
                continue;
            }
            let (our_state, our_trace) =
                task_outcome(&ours.base, variant.name, Duration::from_secs(20)).await;
            if our_state != "FAILED" || !our_trace.contains(text) {
                report.push(format!(
                    "{}: our task is {our_state}, its trace does not say {text:?}: {our_trace}",
                    variant.name
                ));
            }
        }
    }
    let theirs: Vec<&String> = topics.iter().map(|(theirs, _)| theirs).collect();
    let written = read_topics(&expected, &theirs).await;
    for (variant, (theirs, ours_topic)) in variants.iter().zip(&topics) {
        // The expected count is our reading of FileStreamSourceTask's line rules.
        assert_eq!(
            written[theirs].len(),
            expected[theirs],
            "{}: Kafka Connect wrote another number of records than expected; log:\n{}",
            variant.name,
            kafka_connect.log_tail()
        );
        report.extend(differences(variant, &written[theirs], &written[ours_topic]));
    }
    let log = kafka_connect.log_tail();
    kafka_connect.stop(Duration::from_secs(60)).await;
    ours.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
    assert!(
        report.is_empty(),
        "{} differences between Kafka Connect's bytes and ours:\n{}\n(Kafka Connect log tail:\n{log})",
        report.len(),
        report.join("\n")
    );
}
