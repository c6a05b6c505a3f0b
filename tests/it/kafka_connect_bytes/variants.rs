//! The inputs and connector configs that `kafka_connect_bytes` runs on both workers.

pub(super) const FILE_SOURCE: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";
const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";
const STRING: &str = "org.apache.kafka.connect.storage.StringConverter";
const BYTE_ARRAY: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";
const SMT: &str = "org.apache.kafka.connect.transforms.";

/// The files the connectors read; each line becomes a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Input {
    /// Text JSON must escape, multi-byte UTF-8, line-ending rules, a long line.
    Text,
    /// What `Double.parseDouble` / `Float.parseFloat` read. Values that JDK 17 spells with
    /// more than the shortest digits (`1e23`, `8.41E21`, `123456789.123` as a float32) are
    /// left out: ours is the JDK 19+ spelling (docs/connect.md).
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
    pub(super) const ALL: [Input; 6] = [
        Input::Text,
        Input::Numbers,
        Input::SmallIntegers,
        Input::LargeIntegers,
        Input::Booleans,
        Input::Timestamps,
    ];

    pub(super) fn contents(self) -> Vec<u8> {
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
pub(super) fn kafka_line_count(contents: &[u8]) -> usize {
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
pub(super) enum Expect {
    /// One record per line, byte-identical on both sides.
    Records,
    /// The task fails on both workers with this text in its trace; nothing is written.
    TaskFails(&'static str),
}

#[derive(Debug)]
pub(super) struct Variant {
    pub(super) name: &'static str,
    pub(super) input: Input,
    pub(super) settings: Settings,
    pub(super) expect: Expect,
    /// A struct field whose number differs between the two runs (the record timestamp):
    /// its digits are replaced by 0 on both sides before comparing.
    pub(super) masked_field: Option<&'static str>,
}

/// Connector settings: key, value.
pub(super) type Settings = Vec<(String, String)>;

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

/// One `InsertHeader` step per (header, literal): each header gets its literal.
fn insert_header_literals(headers: &[(&str, &str)]) -> Settings {
    let steps: Vec<[(&str, &str); 2]> = headers
        .iter()
        .map(|(header, literal)| [("header", *header), ("value.literal", *literal)])
        .collect();
    let chain_steps: Vec<Step<'_>> = headers
        .iter()
        .zip(&steps)
        .map(|((header, _), keys)| (*header, "InsertHeader", &keys[..]))
        .collect();
    chain(&chain_steps)
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

pub(super) fn variants() -> Vec<Variant> {
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
                insert_header_literals(&[
                    ("text", "plain text"),
                    ("int", "42"),
                    ("fraction", "1.5"),
                    ("exponent", "1e10"),
                    ("bool", "true"),
                    ("list", "[1,2,3]"),
                    ("whole", "1.0"),
                    ("padded", " 007 "),
                    ("pi", "3.14159265358979"),
                    ("small", "-1E-5"),
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
