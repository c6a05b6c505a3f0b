use std::io::SeekFrom;
use std::time::Duration;

use connect_api::{
    ConfigDef, ConfigKey, ConfigMap, ConfigType, ConnectError, ConnectRecord, ExactlyOnceSupport,
    Importance, PluginInfo, Schema, SourceConnector, SourceRecord, SourceTask, SourceTaskContext,
};
use serde_json::{Map, Value};
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

const FILE: &str = "file";
const TOPIC: &str = "topic";
const BATCH_SIZE: &str = "batch.size";
/// How long `poll` waits when the file has no new complete line, like Kafka's 1 s wait.
const IDLE_WAIT: Duration = Duration::from_millis(250);

/// `FileStreamSourceConnector`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileStreamSource;

fn single_topic(value: &str) -> Result<(), String> {
    let topics: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if topics.len() == 1 {
        Ok(())
    } else {
        Err("'topic' in FileStreamSourceConnector configuration requires definition of a single topic".to_owned())
    }
}

fn positive(value: &str) -> Result<(), String> {
    match value.trim().parse::<i32>() {
        Ok(n) if n >= 1 => Ok(()),
        _ => Err("Value must be at least 1".to_owned()),
    }
}

/// The typed config, parsed from the string map at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceConfig {
    file: String,
    topic: String,
    batch_size: usize,
}

impl SourceConfig {
    fn parse(config: &ConfigMap) -> Result<Self, ConnectError> {
        let def = FileStreamSource.config_def();
        let parsed = def.parse(config)?;
        let file = parsed.string(FILE);
        if file.trim().is_empty() {
            return Err(ConnectError::config(
                FILE,
                "reading standard input is not supported; name a file",
            ));
        }
        Ok(Self {
            file,
            topic: parsed.string(TOPIC).trim().to_owned(),
            batch_size: usize::try_from(parsed.int(BATCH_SIZE)?).unwrap_or(1).max(1),
        })
    }
}

impl SourceConnector for FileStreamSource {
    type Task = FileStreamSourceTask;

    fn info(&self) -> PluginInfo {
        PluginInfo {
            class: "org.apache.kafka.connect.file.FileStreamSourceConnector",
            aliases: &["FileStreamSource", "file-stream-source"],
            version: crate::VERSION,
        }
    }

    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(FILE, ConfigType::String)
                    .default_value("")
                    .importance(Importance::High)
                    .doc("Source filename. If not specified, the standard input will be used"),
            )
            .define(
                ConfigKey::new(TOPIC, ConfigType::List)
                    .importance(Importance::High)
                    .doc("The topic to publish data to")
                    .validator(single_topic),
            )
            .define(
                ConfigKey::new(BATCH_SIZE, ConfigType::Int)
                    .default_value("2000")
                    .importance(Importance::Low)
                    .doc("The maximum number of records the source task can read from the file each time it is polled")
                    .validator(positive),
            )
    }

    /// The offset is the byte after the last line handed out and lines are only appended,
    /// so a restart from a committed offset emits exactly the lines after it. Without a
    /// file (Kafka's standard input) nothing could be replayed.
    fn exactly_once_support(&self, config: &ConfigMap) -> ExactlyOnceSupport {
        if config.get(FILE).is_some_and(|file| !file.trim().is_empty()) {
            ExactlyOnceSupport::Supported
        } else {
            ExactlyOnceSupport::Unsupported
        }
    }

    fn task_configs(
        &self,
        config: &ConfigMap,
        _max_tasks: usize,
    ) -> Result<Vec<ConfigMap>, ConnectError> {
        SourceConfig::parse(config)?;
        // One file, one reader: Kafka's connector also returns exactly one task.
        Ok(vec![config.clone()])
    }

    async fn create_task(
        &self,
        config: &ConfigMap,
        context: SourceTaskContext,
    ) -> Result<FileStreamSourceTask, ConnectError> {
        let config = SourceConfig::parse(config)?;
        let partition = partition_of(&config.file);
        let position = context
            .offset(&partition)
            .and_then(|offset| offset.get("position"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        Ok(FileStreamSourceTask {
            config,
            partition,
            position,
            file: None,
            pending: Vec::new(),
        })
    }
}

fn partition_of(file: &str) -> Map<String, Value> {
    let mut partition = Map::new();
    partition.insert("filename".to_owned(), Value::String(file.to_owned()));
    partition
}

/// Reads complete lines from `position` on; a line without its newline yet waits.
#[derive(Debug)]
pub struct FileStreamSourceTask {
    config: SourceConfig,
    partition: Map<String, Value>,
    /// Byte offset just after the last line handed out.
    position: u64,
    file: Option<File>,
    /// Bytes read past `position` that do not end in a newline yet.
    pending: Vec<u8>,
}

impl FileStreamSourceTask {
    async fn open(&mut self) -> Result<&mut File, ConnectError> {
        if self.file.is_none() {
            let mut file = match File::open(&self.config.file).await {
                Ok(file) => file,
                // Kafka's task waits for the file to appear.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    return Err(ConnectError::retriable(format!(
                        "file {} does not exist yet",
                        self.config.file
                    )));
                }
                Err(error) => {
                    return Err(ConnectError::definite(format!(
                        "cannot open {}: {error}",
                        self.config.file
                    )));
                }
            };
            file.seek(SeekFrom::Start(self.position))
                .await
                .map_err(|error| {
                    ConnectError::definite(format!("cannot seek {}: {error}", self.config.file))
                })?;
            self.pending.clear();
            self.file = Some(file);
        }
        self.file
            .as_mut()
            .ok_or_else(|| ConnectError::definite("file handle vanished"))
    }

    fn record(&self, line: String, position: u64) -> SourceRecord {
        let mut offset = Map::new();
        offset.insert("position".to_owned(), Value::from(position));
        SourceRecord {
            source_partition: self.partition.clone(),
            source_offset: offset,
            record: ConnectRecord {
                // Kafka's task stamps each record with the time it read the line.
                timestamp: Some(now_millis()),
                ..ConnectRecord::new(
                    &self.config.topic,
                    Some(Schema::new(connect_api::SchemaType::String).into()),
                    Value::String(line),
                )
            },
        }
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Where the first line of `bytes` ends and where the next one starts, with Kafka's
/// rules: a line ends at `\n`, `\r\n` or a lone `\r`; a `\r` as the last byte waits for
/// the next byte (it may be the first half of `\r\n`).
fn line_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let end = bytes.iter().position(|b| *b == b'\n' || *b == b'\r')?;
    match (bytes[end], bytes.get(end + 1)) {
        (b'\n', _) => Some((end, end + 1)),
        (_, None) => None,
        (_, Some(b'\n')) => Some((end, end + 2)),
        (_, Some(_)) => Some((end, end + 1)),
    }
}

impl SourceTask for FileStreamSourceTask {
    async fn poll(&mut self) -> Result<Vec<SourceRecord>, ConnectError> {
        let file = match self.open().await {
            Ok(file) => file,
            Err(error) if error.is_retriable() => {
                tokio::time::sleep(IDLE_WAIT).await;
                return Ok(Vec::new());
            }
            Err(error) => return Err(error),
        };
        let mut chunk = vec![0_u8; 64 * 1024];
        let read = file.read(&mut chunk).await.map_err(|error| {
            ConnectError::retriable(format!("cannot read {}: {error}", self.config.file))
        })?;
        self.pending.extend_from_slice(&chunk[..read]);
        let mut records = Vec::new();
        let mut consumed = 0_usize;
        while records.len() < self.config.batch_size {
            let Some((end, next)) = line_end(&self.pending[consumed..]) else {
                break;
            };
            let text =
                String::from_utf8_lossy(&self.pending[consumed..consumed + end]).into_owned();
            consumed += next;
            let position = self.position + consumed as u64;
            records.push(self.record(text, position));
        }
        self.pending.drain(..consumed);
        self.position += consumed as u64;
        if records.is_empty() && read == 0 {
            tokio::time::sleep(IDLE_WAIT).await;
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(file: &str) -> ConfigMap {
        [("file", file), ("topic", "lines"), ("batch.size", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn reads_complete_lines_in_batches_and_resumes_from_the_offset() {
        let path = std::env::temp_dir().join(format!("fss-{}.txt", std::process::id()));
        tokio::fs::write(&path, "a\nb\r\nc\npartial").await.unwrap();
        let file = path.to_string_lossy().into_owned();
        let mut task = FileStreamSource
            .create_task(&config(&file), SourceTaskContext::default())
            .await
            .unwrap();
        let first = task.poll().await.unwrap();
        let values: Vec<_> = first.iter().map(|r| r.record.value.clone()).collect();
        assert_eq!(values, vec![Value::from("a"), Value::from("b")]);
        assert_eq!(first[1].source_offset["position"], Value::from(5));
        let second = task.poll().await.unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].record.value, Value::from("c"));

        let mut context = SourceTaskContext::default();
        let partition = partition_of(&file);
        context.offsets.insert(
            Value::Object(partition.clone()).to_string(),
            (partition, second[0].source_offset.clone()),
        );
        let mut resumed = FileStreamSource
            .create_task(&config(&file), context)
            .await
            .unwrap();
        tokio::fs::write(&path, "a\nb\r\nc\npartial line\n")
            .await
            .unwrap();
        let rest = resumed.poll().await.unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].record.value, Value::from("partial line"));
        let _ = tokio::fs::remove_file(&path).await;
    }

    #[test]
    fn lines_end_at_newline_crlf_and_a_lone_carriage_return_as_in_kafka() {
        assert_eq!(line_end(b"a\nb"), Some((1, 2)));
        assert_eq!(line_end(b"a\r\nb"), Some((1, 3)));
        assert_eq!(line_end(b"a\rb"), Some((1, 2)));
        assert_eq!(line_end(b"\n"), Some((0, 1)));
        // A trailing \r may be the first half of \r\n: wait for the next byte.
        assert_eq!(line_end(b"a\r"), None);
        assert_eq!(line_end(b"no end"), None);
    }

    #[test]
    fn validate_rejects_two_topics() {
        let mut map = config("/tmp/x");
        map.insert("topic".to_owned(), "a,b".to_owned());
        let values = FileStreamSource.config_def().validate(&map);
        assert!(
            values
                .iter()
                .any(|v| v.name == "topic" && !v.errors.is_empty())
        );
    }
}
