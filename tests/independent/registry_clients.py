"""Confluent's own Python client (confluent-kafka, with its Schema Registry client and its
Avro, Protobuf and JSON Schema serializers) against a registry at argv[1].

Each serializer registers its schema the way Confluent's clients do (Protobuf as a base64
FileDescriptorProto, asking `format=serialized` back), frames a value, and the matching
deserializer reads it back through the registry. Prints one JSON line per check; the Rust
test (tests/it/schema_registry_clients.rs) asserts on them. Exits non-zero on any exception.
"""

import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

url, topic = sys.argv[1], sys.argv[2]
client = SchemaRegistryClient({"url": url})


def report(check, **fields):
    print(json.dumps({"check": check, **fields}), flush=True)


def value_context(name):
    return SerializationContext(name, MessageField.VALUE)


def framed_id(data):
    assert data[0] == 0, f"magic byte {data[0]}"
    return int.from_bytes(data[1:5], "big")


# Avro: register through the serializer, read back through the deserializer.
avro_topic = f"{topic}-avro"
avro_schema = json.dumps({
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
    ],
})
avro_value = {"id": 42, "note": "first", "amount": b"\x30\x39", "tags": ["a", "b"]}
serialized = AvroSerializer(client, avro_schema)(avro_value, value_context(avro_topic))
latest = client.get_latest_version(f"{avro_topic}-value")
decoded = AvroDeserializer(client)(serialized, value_context(avro_topic))
report("avro", framed_id=framed_id(serialized), latest_id=latest.schema_id,
       latest_version=latest.version, round_trip=decoded == {**avro_value, "amount": decoded["amount"]},
       decoded_id=decoded["id"], decoded_note=decoded["note"], decoded_tags=decoded["tags"],
       bytes_hex=serialized.hex())

# Protobuf: a message type built from a descriptor, as generated code would carry it.
file = descriptor_pb2.FileDescriptorProto(name="shop/order.proto", package="shop", syntax="proto3")
file.dependency.append("google/protobuf/timestamp.proto")
line = file.message_type.add(name="Line")
line.field.add(name="sku", number=1, type=9, label=1, json_name="sku")
line.field.add(name="qty", number=2, type=5, label=1, json_name="qty")
order = file.message_type.add(name="Order")
order.field.add(name="id", number=1, type=3, label=1, json_name="id")
order.field.add(name="lines", number=2, type=11, label=3, type_name=".shop.Line", json_name="lines")
order.field.add(name="at", number=3, type=11, label=1, type_name=".google.protobuf.Timestamp", json_name="at")
pool = descriptor_pool.Default()
pool.Add(file)
Order = message_factory.GetMessageClass(pool.FindMessageTypeByName("shop.Order"))
proto_topic = f"{topic}-protobuf"
message = Order(id=7, lines=[{"sku": "x", "qty": 2}])
message.at.seconds = 1700000000
proto_conf = {"use.deprecated.format": False}
serialized = ProtobufSerializer(Order, client, proto_conf)(message, value_context(proto_topic))
registered = client.get_latest_version(f"{proto_topic}-value")
decoded = ProtobufDeserializer(Order, proto_conf)(serialized, value_context(proto_topic))
stored_text = registered.schema.schema_str
report("protobuf", framed_id=framed_id(serialized), latest_id=registered.schema_id,
       schema_type=registered.schema.schema_type, stored_text=stored_text,
       message_index_byte=serialized[5], round_trip=decoded == message,
       references=[r.name for r in (registered.schema.references or [])])
# The stored text is .proto source a generic reader can use: register it again as text
# and the registry must find the same schema (same id).
again = client.register_schema(f"{proto_topic}-value", Schema(stored_text, "PROTOBUF"))
report("protobuf_text_same_id", id=again.schema_id if hasattr(again, "schema_id") else again)

# JSON Schema.
json_topic = f"{topic}-json"
json_schema = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#", "title": "Order", "type": "object",
    "properties": {"id": {"type": "integer"}, "note": {"type": "string"}}, "required": ["id"],
})
serialized = JSONSerializer(json_schema, client)({"id": 5, "note": "n"}, value_context(json_topic))
decoded = JSONDeserializer(None, schema_registry_client=client)(serialized, value_context(json_topic))
report("json", framed_id=framed_id(serialized), decoded=decoded,
       latest_id=client.get_latest_version(f"{json_topic}-value").schema_id)

# Evolution: a backward-compatible Avro change is accepted, an incompatible one refused.
evolved = json.loads(avro_schema)
evolved["fields"].append({"name": "channel", "type": "string", "default": "web"})
compatible = client.test_compatibility(f"{avro_topic}-value", Schema(json.dumps(evolved), "AVRO"))
broken = json.loads(avro_schema)
broken["fields"].append({"name": "required_new", "type": "string"})
incompatible = client.test_compatibility(f"{avro_topic}-value", Schema(json.dumps(broken), "AVRO"))
report("compatibility", compatible=compatible, incompatible=incompatible)
