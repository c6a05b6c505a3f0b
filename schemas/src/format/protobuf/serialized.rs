//! The base64 `FileDescriptorProto` form of a Protobuf schema, which Confluent's
//! serializers register and ask for (`format=serialized`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use prost::Message as _;
use prost_types::FileDescriptorProto;

use crate::compiled::ProtobufSchema;
use crate::format::ResolvedReference;

/// The descriptor in `text` when it is base64 of a serialized `FileDescriptorProto` that
/// declares something (random base64 rarely decodes to one with a message or enum).
pub fn decode(text: &str) -> Option<FileDescriptorProto> {
    let bytes = STANDARD.decode(text.trim()).ok()?;
    let descriptor = FileDescriptorProto::decode(bytes.as_slice()).ok()?;
    let declares = !descriptor.message_type.is_empty()
        || !descriptor.enum_type.is_empty()
        || !descriptor.service.is_empty();
    declares.then_some(descriptor)
}

/// The base64 serialized descriptor of a schema, names resolved as protoc resolves them, so
/// any descriptor pool (Python's, Java's) builds it given its references.
pub fn encode(text: &str, references: &[ResolvedReference]) -> Result<String, String> {
    let compiled = ProtobufSchema::compile(text, references)?;
    let mut descriptor = compiled.file.file_descriptor_proto().clone();
    descriptor.source_code_info = None;
    Ok(STANDARD.encode(descriptor.encode_to_vec()))
}
