//! MySQL / MariaDB source connector: binlog CDC in Debezium's event format and query modes
//! compatible with Confluent's JDBC source. Built on the connector runtime (issue #4); the
//! connector itself is issue #5.
