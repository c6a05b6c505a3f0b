//! Java client properties (as written in `mm2.properties`) → librdkafka properties.
//!
//! MM2 files carry Java client settings (`sasl.jaas.config`, `ssl.truststore.*`,
//! `delivery.timeout.ms`, serializers). Each is translated, dropped with a reason (the
//! setting has no meaning here), or reported as unknown. Nothing is passed blindly, so a
//! typo is reported against the key the user wrote.

/// What happens to one client property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Translation {
    /// Set these librdkafka properties.
    Set(Vec<(String, String)>),
    /// Meaningless for librdkafka (serializers, Java buffer sizes): reported, then ignored.
    Ignored(&'static str),
    /// Not a client property we know.
    Unknown,
}

/// Properties librdkafka knows under the same name and meaning.
const SAME_NAME: &[&str] = &[
    "security.protocol",
    "sasl.kerberos.service.name",
    "sasl.kerberos.principal",
    "sasl.kerberos.keytab",
    "sasl.username",
    "sasl.password",
    "sasl.oauthbearer.token.endpoint.url",
    "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.scope",
    "ssl.key.password",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.cipher.suites",
    "ssl.sigalgs.list",
    "client.rack",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "fetch.wait.max.ms",
    "max.partition.fetch.bytes",
    "max.poll.interval.ms",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "isolation.level",
    "auto.offset.reset",
    "group.instance.id",
    "linger.ms",
    "batch.size",
    "batch.num.messages",
    "compression.type",
    "acks",
    "enable.idempotence",
    "retries",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "connections.max.idle.ms",
    "metadata.max.age.ms",
    "message.max.bytes",
    "queue.buffering.max.messages",
    "queue.buffering.max.kbytes",
    "queued.max.messages.kbytes",
    "socket.keepalive.enable",
    "statistics.interval.ms",
    "topic.metadata.refresh.interval.ms",
    "client.dns.lookup",
];

/// Java name → librdkafka name.
const RENAMED: &[(&str, &str)] = &[
    ("sasl.mechanism", "sasl.mechanisms"),
    ("delivery.timeout.ms", "message.timeout.ms"),
    ("fetch.max.wait.ms", "fetch.wait.max.ms"),
    ("max.in.flight.requests.per.connection", "max.in.flight"),
    ("receive.buffer.bytes", "socket.receive.buffer.bytes"),
    ("send.buffer.bytes", "socket.send.buffer.bytes"),
    ("request.timeout.ms", "socket.timeout.ms"),
];

const IGNORED: &[(&str, &str)] = &[
    ("key.serializer", "records are copied as bytes"),
    ("value.serializer", "records are copied as bytes"),
    ("key.deserializer", "records are copied as bytes"),
    ("value.deserializer", "records are copied as bytes"),
    ("key.converter", "records are copied as bytes"),
    ("value.converter", "records are copied as bytes"),
    ("header.converter", "records are copied as bytes"),
    ("buffer.memory", "use queue.buffering.max.kbytes"),
    ("max.block.ms", "the mirror applies backpressure itself"),
    (
        "enable.auto.commit",
        "the mirror commits after the target acknowledged",
    ),
    (
        "auto.commit.interval.ms",
        "the mirror commits after the target acknowledged",
    ),
    ("max.poll.records", "librdkafka has no per-poll limit"),
    ("partitioner.class", "records keep their source partition"),
    (
        "ssl.truststore.type",
        "read together with ssl.truststore.location",
    ),
    (
        "ssl.keystore.type",
        "read together with ssl.keystore.location",
    ),
    (
        "ssl.truststore.password",
        "PEM trust stores have no password",
    ),
    ("sasl.login.callback.handler.class", "Java class"),
    ("sasl.client.callback.handler.class", "Java class"),
    ("interceptor.classes", "Java class"),
    ("metric.reporters", "Java class"),
];

/// Translates `key = value`; `truststore_type` is the `ssl.truststore.type` of the same
/// scope (librdkafka reads only PEM trust stores).
pub(crate) fn translate(key: &str, value: &str, truststore_type: Option<&str>) -> Translation {
    if SAME_NAME.contains(&key) {
        return Translation::Set(vec![(key.to_owned(), value.to_owned())]);
    }
    if let Some((_, renamed)) = RENAMED.iter().find(|(java, _)| *java == key) {
        return Translation::Set(vec![((*renamed).to_owned(), value.to_owned())]);
    }
    if let Some((_, reason)) = IGNORED.iter().find(|(java, _)| *java == key) {
        return Translation::Ignored(reason);
    }
    match key {
        "ssl.endpoint.identification.algorithm" => {
            let value = if value.trim().is_empty() {
                "none"
            } else {
                value
            };
            Translation::Set(vec![(key.to_owned(), value.to_owned())])
        }
        "ssl.truststore.location" => match truststore_type.map(str::to_ascii_uppercase) {
            Some(kind) if kind == "PEM" => {
                Translation::Set(vec![("ssl.ca.location".to_owned(), value.to_owned())])
            }
            _ => Translation::Ignored(
                "librdkafka cannot read JKS/PKCS12 trust stores: set ssl.truststore.type=PEM \
                 with a PEM file, or ssl.ca.location",
            ),
        },
        "sasl.jaas.config" => match jaas_credentials(value) {
            Some((username, password)) => Translation::Set(vec![
                ("sasl.username".to_owned(), username),
                ("sasl.password".to_owned(), password),
            ]),
            None => Translation::Ignored(
                "only PlainLoginModule / ScramLoginModule with username and password are read",
            ),
        },
        _ => Translation::Unknown,
    }
}

/// `... required username="u" password="p";` → `(u, p)`.
fn jaas_credentials(jaas: &str) -> Option<(String, String)> {
    let field = |name: &str| -> Option<String> {
        let start = jaas.find(&format!("{name}=\""))? + name.len() + 2;
        let end = jaas[start..].find('"')? + start;
        Some(jaas[start..end].to_owned())
    };
    Some((field("username")?, field("password")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaas_is_read_into_username_and_password() {
        let jaas = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s3cret";"#;
        assert_eq!(
            translate("sasl.jaas.config", jaas, None),
            Translation::Set(vec![
                ("sasl.username".to_owned(), "alice".to_owned()),
                ("sasl.password".to_owned(), "s3cret".to_owned()),
            ])
        );
    }

    #[test]
    fn java_names_are_renamed() {
        assert_eq!(
            translate("sasl.mechanism", "PLAIN", None),
            Translation::Set(vec![("sasl.mechanisms".to_owned(), "PLAIN".to_owned())])
        );
        assert_eq!(translate("no.such.thing", "1", None), Translation::Unknown);
        assert!(matches!(
            translate("key.serializer", "x", None),
            Translation::Ignored(_)
        ));
    }
}
