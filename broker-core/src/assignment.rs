//! Consumer-group assignments as DescribeGroups returns them: the opaque bytes of the
//! group's protocol, for `consumer` groups Kafka's ConsumerProtocolAssignment. Written out
//! rather than taken from `kafka-protocol`, whose decoder refuses versions above the ones
//! it knows, while every later version only appends fields and the topics and partitions
//! read the same.

/// Decodes a ConsumerProtocolAssignment (any version: later versions only append
/// fields); `None` when the bytes are not one.
pub fn decode(bytes: &[u8]) -> Option<Vec<(String, i32)>> {
    struct Reader<'a>(&'a [u8]);
    impl Reader<'_> {
        fn take(&mut self, n: usize) -> Option<&[u8]> {
            if self.0.len() < n {
                return None;
            }
            let (head, tail) = self.0.split_at(n);
            self.0 = tail;
            Some(head)
        }
        fn i16(&mut self) -> Option<i16> {
            Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
        }
        fn i32(&mut self) -> Option<i32> {
            Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
        }
    }
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let mut reader = Reader(bytes);
    let _version = reader.i16()?;
    let topics = reader.i32()?;
    let mut out = Vec::new();
    for _ in 0..topics.max(0) {
        let length = usize::try_from(reader.i16()?).ok()?;
        let topic = std::str::from_utf8(reader.take(length)?).ok()?.to_owned();
        let partitions = reader.i32()?;
        for _ in 0..partitions.max(0) {
            out.push((topic.clone(), reader.i32()?));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(version: i16, topics: &[(&str, &[i32])], user_data: &[u8]) -> Vec<u8> {
        let mut out = version.to_be_bytes().to_vec();
        out.extend(i32::try_from(topics.len()).unwrap().to_be_bytes());
        for (topic, partitions) in topics {
            out.extend(i16::try_from(topic.len()).unwrap().to_be_bytes());
            out.extend(topic.as_bytes());
            out.extend(i32::try_from(partitions.len()).unwrap().to_be_bytes());
            for p in *partitions {
                out.extend(p.to_be_bytes());
            }
        }
        out.extend(i32::try_from(user_data.len()).unwrap().to_be_bytes());
        out.extend(user_data);
        out
    }

    #[test]
    fn consumer_assignments_decode() {
        let bytes = encode(3, &[("orders", &[0, 2]), ("audit", &[1])], b"x");
        assert_eq!(
            decode(&bytes).unwrap(),
            vec![
                ("orders".to_owned(), 0),
                ("orders".to_owned(), 2),
                ("audit".to_owned(), 1)
            ]
        );
        assert_eq!(decode(&[]).unwrap(), Vec::new());
    }

    #[test]
    fn truncated_assignments_are_refused_not_misread() {
        let bytes = encode(0, &[("orders", &[0, 2])], b"");
        for cut in 1..bytes.len() - 4 {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
    }
}
