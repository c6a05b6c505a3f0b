"""Confluent's own Python client and serializers on the Kafka side of the bridge's schema
formats (avro, jsonschema, protobuf), with the registry at argv[2] and Kafka at argv[3].

    bridge_formats.py produce <registry> <bootstrap> <prefix>
        AvroSerializer, ProtobufSerializer and JSONSerializer write one value each to
        <prefix>-avro, <prefix>-protobuf and <prefix>-json; the bridge's consumers must
        decode them (tests/it/bridge_schemas_independent.rs).
    bridge_formats.py consume <registry> <bootstrap> <prefix> <count>
        AvroDeserializer, ProtobufDeserializer and JSONDeserializer read what the bridge
        produced to the same three topics and print it.

Prints one JSON line per check. Exits non-zero on any exception or when a topic does not
hold <count> records within 30 s.
"""

import json
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

mode, url, bootstrap, prefix = sys.argv[1:5]
client = SchemaRegistryClient({"url": url})
PROTO_CONF = {"use.deprecated.format": False}

AVRO_SCHEMA = json.dumps({
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "raw", "type": "bytes"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["NEW", "OLD"]}},
    ],
})
JSON_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#", "title": "Person", "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name"],
})


def order_class():
    """shop.Order as generated code would carry it: the second message of its file, so
    that its Confluent message indexes are [1]."""
    file = descriptor_pb2.FileDescriptorProto(
        name=f"shop/order_{uuid.uuid4().hex}.proto", package="shop", syntax="proto3")
    line = file.message_type.add(name="Line")
    line.field.add(name="sku", number=1, type=9, label=1, json_name="sku")
    order = file.message_type.add(name="Order")
    order.field.add(name="id", number=1, type=3, label=1, json_name="id")
    order.field.add(name="note", number=2, type=9, label=1, json_name="note")
    order.field.add(name="tags", number=3, type=9, label=3, json_name="tags")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.Order"))


def report(check, **fields):
    print(json.dumps({"check": check, **fields}), flush=True)


def context(topic):
    return SerializationContext(topic, MessageField.VALUE)


def produce():
    producer = Producer({"bootstrap.servers": bootstrap})
    topic = f"{prefix}-avro"
    value = {"id": 42, "note": "first", "raw": b"\x01\xff", "kind": "OLD"}
    producer.produce(topic, AvroSerializer(client, AVRO_SCHEMA)(value, context(topic)))

    topic = f"{prefix}-protobuf"
    order = order_class()
    message = order(id=7, note="n", tags=["a", "b"])
    framed = ProtobufSerializer(order, client, PROTO_CONF)(message, context(topic))
    producer.produce(topic, framed)
    report("protobuf_framing", message_indexes_hex=framed[5:7].hex())

    topic = f"{prefix}-json"
    value = {"name": "ann", "age": 3}
    producer.produce(topic, JSONSerializer(JSON_SCHEMA, client)(value, context(topic)))
    remaining = producer.flush(30)
    assert remaining == 0, f"{remaining} records not delivered"
    report("produced", topics=[f"{prefix}-avro", f"{prefix}-protobuf", f"{prefix}-json"])


def read(topic, count):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"py-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    values, deadline = [], time.time() + 30
    while len(values) < count:
        assert time.time() < deadline, f"{topic}: {len(values)} of {count} records after 30 s"
        message = consumer.poll(1.0)
        if message is None:
            continue
        assert message.error() is None, message.error()
        values.append(message.value())
    consumer.close()
    return values


def consume(count):
    topic = f"{prefix}-avro"
    decode = AvroDeserializer(client)
    decoded = [decode(value, context(topic)) for value in read(topic, count)]
    for value in decoded:
        value["raw"] = value["raw"].hex()
    report("avro", values=decoded)

    topic = f"{prefix}-protobuf"
    decode = ProtobufDeserializer(order_class(), PROTO_CONF)
    decoded = [decode(value, context(topic)) for value in read(topic, count)]
    report("protobuf", values=[{"id": m.id, "note": m.note, "tags": list(m.tags)} for m in decoded])

    topic = f"{prefix}-json"
    decode = JSONDeserializer(None, schema_registry_client=client)
    report("json", values=[decode(value, context(topic)) for value in read(topic, count)])


if mode == "produce":
    produce()
elif mode == "consume":
    consume(int(sys.argv[5]))
else:
    raise SystemExit(f"unknown mode {mode}")
