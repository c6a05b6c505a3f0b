//! Elasticsearch / OpenSearch sink connector with Confluent-compatible configuration. Built
//! on the connector runtime (issue #4); the connector itself is issue #6.
