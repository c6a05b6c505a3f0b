"""Confluent's own Python client (confluent-kafka, fastavro, its Avro, JSON Schema and
Protobuf serializers) against what our Connect AvroConverter, JsonSchemaConverter and
ProtobufConverter write and read, with our registry at the given URL.

    connect_schemas.py decode avro|json|protobuf <bootstrap> <registry> <topic> <count>
        reads <count> records of <topic> from the start with AvroDeserializer,
        JSONDeserializer (which validates each payload against the writer's schema) or
        ProtobufDeserializer (the message class built from the registered schema, fetched
        as a serialized FileDescriptorProto) for key and value; prints one
        {"check": "record", ...} line per record, then {"check": "decoded", "count": n}.
    connect_schemas.py produce avro|json|protobuf <bootstrap> <registry> <topic>
        writes three orders with AvroSerializer (key "long", value a shop.Order record),
        JSONSerializer (a plain JSON Schema, no Connect annotations; the key a plain string)
        or ProtobufSerializer (a shop.Order message; the key a plain string); prints
        {"check": "produced", "count": 3}.

Exits non-zero on any exception; the Rust tests (tests/it/connect_avro.rs,
tests/it/connect_schemas.rs) assert on the lines.
"""

import base64
import json
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.confluent import meta_pb2
from confluent_kafka.schema_registry.confluent.type import decimal_pb2
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf import timestamp_pb2, wrappers_pb2
from google.protobuf.json_format import MessageToDict
from google.type import date_pb2, timeofday_pb2

PROTO_CONF = {"use.deprecated.format": False}
# The files Confluent imports without references, as Python's generated modules hold them.
KNOWN_FILES = {module.DESCRIPTOR.name: module.DESCRIPTOR for module in (
    meta_pb2, decimal_pb2, date_pb2, timeofday_pb2, timestamp_pb2, wrappers_pb2, descriptor_pb2)}


def report(check, **fields):
    print(json.dumps({"check": check, **fields}, default=plain), flush=True)


def plain(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return str(value)


def add_file(pool, descriptor, added):
    if descriptor.name in added:
        return
    for dependency in descriptor.dependencies:
        add_file(pool, dependency, added)
    proto = descriptor_pb2.FileDescriptorProto()
    descriptor.CopyToProto(proto)
    pool.Add(proto)
    added.add(descriptor.name)


class ProtobufReader:
    """ProtobufDeserializer needs a message class: build it from the registered schema."""

    def __init__(self, client):
        self.client = client
        self.classes = {}

    def message_class(self, schema_id):
        if schema_id not in self.classes:
            registered = self.client.get_schema(schema_id, fmt="serialized")
            proto = descriptor_pb2.FileDescriptorProto.FromString(
                base64.b64decode(registered.schema_str))
            pool = descriptor_pool.DescriptorPool()
            added = set()
            for dependency in proto.dependency:
                add_file(pool, KNOWN_FILES[dependency], added)
            pool.Add(proto)
            name = (proto.package + "." if proto.package else "") + proto.message_type[0].name
            self.classes[schema_id] = message_factory.GetMessageClass(
                pool.FindMessageTypeByName(name))
        return self.classes[schema_id]

    def __call__(self, data, context):
        if data is None:
            return None
        message_class = self.message_class(int.from_bytes(data[1:5], "big"))
        message = ProtobufDeserializer(message_class, PROTO_CONF)(data, context)
        return {"type": message.DESCRIPTOR.full_name,
                "fields": MessageToDict(message, preserving_proto_field_name=True)}


def decode(kind, bootstrap, registry, topic, count):
    client = SchemaRegistryClient({"url": registry})
    if kind == "avro":
        deserializer = AvroDeserializer(client)
    elif kind == "json":
        deserializer = JSONDeserializer(None, schema_registry_client=client)
    else:
        deserializer = ProtobufReader(client)
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"py-{topic}-{time.time()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    seen = 0
    deadline = time.time() + 60
    while seen < count and time.time() < deadline:
        message = consumer.poll(1.0)
        if message is None or message.error():
            continue
        key = deserializer(message.key(), SerializationContext(topic, MessageField.KEY))
        value = deserializer(message.value(), SerializationContext(topic, MessageField.VALUE))
        report("record", offset=message.offset(), key=key, value=value)
        seen += 1
    consumer.close()
    report("decoded", count=seen)


ORDER_AVRO_SCHEMA = json.dumps({
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "item", "type": "string"},
        {"name": "qty", "type": "int"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
    ],
})

ORDER_JSON_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#", "title": "Order", "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "item": {"type": "string"},
        "qty": {"type": "integer"},
        "note": {"type": ["null", "string"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["id", "item", "qty"],
})

ORDERS = [
    {"id": 1, "item": "book", "qty": 2, "note": None, "tags": ["paper"]},
    {"id": 2, "item": "pen", "qty": 10, "note": "blue", "tags": []},
    {"id": 3, "item": "lamp", "qty": 1, "note": None, "tags": ["light", "desk"]},
]


def order_message_class():
    file = descriptor_pb2.FileDescriptorProto(name="shop/order.proto", package="shop", syntax="proto3")
    file.dependency.append("google/protobuf/timestamp.proto")
    order = file.message_type.add(name="Order")
    order.field.add(name="id", number=1, type=3, label=1, json_name="id")
    order.field.add(name="item", number=2, type=9, label=1, json_name="item")
    order.field.add(name="qty", number=3, type=5, label=1, json_name="qty")
    order.field.add(name="tags", number=4, type=9, label=3, json_name="tags")
    order.field.add(name="at", number=5, type=11, label=1, type_name=".google.protobuf.Timestamp",
                    json_name="at")
    pool = descriptor_pool.Default()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.Order"))


def produce(kind, bootstrap, registry, topic):
    client = SchemaRegistryClient({"url": registry})
    producer = Producer({"bootstrap.servers": bootstrap})
    keys = AvroSerializer(client, '"long"') if kind == "avro" else None
    if kind == "avro":
        serializer = AvroSerializer(client, ORDER_AVRO_SCHEMA)
        values = ORDERS
    elif kind == "json":
        serializer = JSONSerializer(ORDER_JSON_SCHEMA, client)
        values = ORDERS
    else:
        order_class = order_message_class()
        serializer = ProtobufSerializer(order_class, client, PROTO_CONF)
        values = []
        for order in ORDERS:
            message = order_class(id=order["id"], item=order["item"], qty=order["qty"],
                                  tags=order["tags"])
            message.at.seconds = 1_700_000_000 + order["id"]
            values.append(message)
    for order, value in zip(ORDERS, values):
        framed = serializer(value, SerializationContext(topic, MessageField.VALUE))
        if keys is None:
            key = str(order["id"]).encode()
        else:
            key = keys(order["id"], SerializationContext(topic, MessageField.KEY))
        producer.produce(topic, key=key, value=framed, partition=0)
    remaining = producer.flush(30)
    assert remaining == 0, f"{remaining} records not delivered"
    report("produced", count=len(ORDERS))


if __name__ == "__main__":
    mode, kind = sys.argv[1], sys.argv[2]
    if kind not in ("avro", "json", "protobuf"):
        raise SystemExit(f"unknown format {kind}")
    if mode == "decode":
        decode(kind, sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    elif mode == "produce":
        produce(kind, sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        raise SystemExit(f"unknown mode {mode}")
