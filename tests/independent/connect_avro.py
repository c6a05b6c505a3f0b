"""Confluent's own Python client (confluent-kafka, fastavro) against what our Connect
AvroConverter writes and reads, with our registry at the given URL.

    connect_avro.py decode <bootstrap> <registry> <topic> <count>
        reads <count> records of <topic> from the start with AvroDeserializer (key and
        value) and prints one {"check": "record", ...} line per record, then
        {"check": "decoded", "count": n}.
    connect_avro.py produce <bootstrap> <registry> <topic>
        writes three records with AvroSerializer (key: "long", value: a shop.Order
        record) and prints {"check": "produced", "count": 3, "value_id": id}.

Exits non-zero on any exception; the Rust tests (tests/it/connect_avro.rs) assert on
the lines.
"""

import base64
import json
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext


def report(check, **fields):
    print(json.dumps({"check": check, **fields}, default=plain), flush=True)


def plain(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return str(value)


def decode(bootstrap, registry, topic, count):
    client = SchemaRegistryClient({"url": registry})
    deserializer = AvroDeserializer(client)
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
        report("record", offset=message.offset(), key=key, value=value,
               value_id=int.from_bytes(message.value()[1:5], "big") if message.value() else None)
        seen += 1
    consumer.close()
    report("decoded", count=seen)


ORDER = json.dumps({
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "item", "type": "string"},
        {"name": "qty", "type": "int"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
    ],
})


def produce(bootstrap, registry, topic):
    client = SchemaRegistryClient({"url": registry})
    keys = AvroSerializer(client, '"long"')
    values = AvroSerializer(client, ORDER)
    producer = Producer({"bootstrap.servers": bootstrap})
    orders = [
        {"id": 1, "item": "book", "qty": 2, "note": None, "tags": ["paper"]},
        {"id": 2, "item": "pen", "qty": 10, "note": "blue", "tags": []},
        {"id": 3, "item": "lamp", "qty": 1, "note": None, "tags": ["light", "desk"]},
    ]
    value_id = None
    for order in orders:
        key = keys(order["id"], SerializationContext(topic, MessageField.KEY))
        value = values(order, SerializationContext(topic, MessageField.VALUE))
        value_id = int.from_bytes(value[1:5], "big")
        producer.produce(topic, key=key, value=value, partition=0)
    remaining = producer.flush(30)
    assert remaining == 0, f"{remaining} records not delivered"
    report("produced", count=len(orders), value_id=value_id)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "decode":
        decode(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif mode == "produce":
        produce(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(f"unknown mode {mode}")
