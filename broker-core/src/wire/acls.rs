//! ACL bindings and the DescribeAcls / CreateAcls / DeleteAcls calls (KIP-140, with the
//! pattern types of KIP-290, so Kafka 2.0+). Types mirror Java's `AclBinding` and
//! `AclBindingFilter`; codes the broker sends that this build does not know survive as
//! `Unknown(code)` instead of failing the whole answer.

use std::fmt;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::StrBytes;

use super::client::WireClient;
use super::error::WireError;

macro_rules! acl_code {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant,)*
            Unknown(i8),
        }

        impl $name {
            pub fn code(self) -> i8 {
                match self {
                    $(Self::$variant => $code,)*
                    Self::Unknown(code) => code,
                }
            }

            pub fn from_code(code: i8) -> Self {
                match code {
                    $($code => Self::$variant,)*
                    other => Self::Unknown(other),
                }
            }
        }

        /// Java's enum constant name (`TOPIC`, `LITERAL`, `READ`, `ALLOW`).
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$variant => f.write_str($text),)*
                    Self::Unknown(code) => write!(f, "UNKNOWN({code})"),
                }
            }
        }
    };
}

acl_code!(
    /// `org.apache.kafka.common.resource.ResourceType`.
    ResourceType {
        Any = 1 => "ANY",
        Topic = 2 => "TOPIC",
        Group = 3 => "GROUP",
        Cluster = 4 => "CLUSTER",
        TransactionalId = 5 => "TRANSACTIONAL_ID",
        DelegationToken = 6 => "DELEGATION_TOKEN",
        User = 7 => "USER",
    }
);

acl_code!(
    /// `org.apache.kafka.common.resource.PatternType`; `Any` and `Match` only in filters.
    PatternType {
        Any = 1 => "ANY",
        Match = 2 => "MATCH",
        Literal = 3 => "LITERAL",
        Prefixed = 4 => "PREFIXED",
    }
);

acl_code!(
    /// `org.apache.kafka.common.acl.AclOperation`.
    AclOperation {
        Any = 1 => "ANY",
        All = 2 => "ALL",
        Read = 3 => "READ",
        Write = 4 => "WRITE",
        Create = 5 => "CREATE",
        Delete = 6 => "DELETE",
        Alter = 7 => "ALTER",
        Describe = 8 => "DESCRIBE",
        ClusterAction = 9 => "CLUSTER_ACTION",
        DescribeConfigs = 10 => "DESCRIBE_CONFIGS",
        AlterConfigs = 11 => "ALTER_CONFIGS",
        IdempotentWrite = 12 => "IDEMPOTENT_WRITE",
        CreateTokens = 13 => "CREATE_TOKENS",
        DescribeTokens = 14 => "DESCRIBE_TOKENS",
        TwoPhaseCommit = 15 => "TWO_PHASE_COMMIT",
    }
);

acl_code!(
    /// `org.apache.kafka.common.acl.AclPermissionType`.
    AclPermission {
        Any = 1 => "ANY",
        Deny = 2 => "DENY",
        Allow = 3 => "ALLOW",
    }
);

/// One ACL: who (`principal` from `host`) may or may not do what on which resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    pub resource_type: ResourceType,
    pub resource_name: String,
    pub pattern_type: PatternType,
    /// `User:alice`.
    pub principal: String,
    /// `*` for every host.
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} from {} on {}:{}:{}",
            self.permission,
            self.principal,
            self.operation,
            self.host,
            self.resource_type,
            self.pattern_type,
            self.resource_name
        )
    }
}

/// Which bindings a describe or delete matches; `None` fields match anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBindingFilter {
    pub resource_type: ResourceType,
    pub resource_name: Option<String>,
    pub pattern_type: PatternType,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

impl AclBindingFilter {
    /// Every binding of `resource_type` with `pattern_type`.
    pub fn resources(resource_type: ResourceType, pattern_type: PatternType) -> Self {
        Self {
            resource_type,
            resource_name: None,
            pattern_type,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermission::Any,
        }
    }

    /// Exactly `binding`.
    pub fn exact(binding: &AclBinding) -> Self {
        Self {
            resource_type: binding.resource_type,
            resource_name: Some(binding.resource_name.clone()),
            pattern_type: binding.pattern_type,
            principal: Some(binding.principal.clone()),
            host: Some(binding.host.clone()),
            operation: binding.operation,
            permission: binding.permission,
        }
    }
}

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

fn optional_text(value: Option<&String>) -> Option<StrBytes> {
    value.map(|v| text(v))
}

impl WireClient {
    /// The bindings matching `filter`. A cluster without an authorizer answers
    /// `SECURITY_DISABLED` ([`super::KafkaCode::SECURITY_DISABLED`]).
    pub async fn describe_acls(
        &self,
        filter: &AclBindingFilter,
    ) -> Result<Vec<AclBinding>, WireError> {
        let request = DescribeAclsRequest::default()
            .with_resource_type_filter(filter.resource_type.code())
            .with_resource_name_filter(optional_text(filter.resource_name.as_ref()))
            .with_pattern_type_filter(filter.pattern_type.code())
            .with_principal_filter(optional_text(filter.principal.as_ref()))
            .with_host_filter(optional_text(filter.host.as_ref()))
            .with_operation(filter.operation.code())
            .with_permission_type(filter.permission.code());
        let response = self.send(&request).await?;
        if let Some(error) = WireError::broker(
            "describe acls",
            response.error_code,
            response.error_message.map(|m| m.to_string()),
        ) {
            return Err(error);
        }
        let mut bindings = Vec::new();
        for resource in response.resources {
            for acl in resource.acls {
                bindings.push(AclBinding {
                    resource_type: ResourceType::from_code(resource.resource_type),
                    resource_name: resource.resource_name.to_string(),
                    pattern_type: PatternType::from_code(resource.pattern_type),
                    principal: acl.principal.to_string(),
                    host: acl.host.to_string(),
                    operation: AclOperation::from_code(acl.operation),
                    permission: AclPermission::from_code(acl.permission_type),
                });
            }
        }
        Ok(bindings)
    }

    /// Creates `bindings`; one result per binding, in order. Creating a binding that
    /// exists already succeeds (the broker keeps one copy).
    pub async fn create_acls(
        &self,
        bindings: &[AclBinding],
    ) -> Result<Vec<Result<(), WireError>>, WireError> {
        if bindings.is_empty() {
            return Ok(Vec::new());
        }
        let creations = bindings
            .iter()
            .map(|binding| {
                AclCreation::default()
                    .with_resource_type(binding.resource_type.code())
                    .with_resource_name(text(&binding.resource_name))
                    .with_resource_pattern_type(binding.pattern_type.code())
                    .with_principal(text(&binding.principal))
                    .with_host(text(&binding.host))
                    .with_operation(binding.operation.code())
                    .with_permission_type(binding.permission.code())
            })
            .collect();
        let response = self
            .send(&CreateAclsRequest::default().with_creations(creations))
            .await?;
        if response.results.len() != bindings.len() {
            return Err(WireError::Protocol {
                broker: self.settings().bootstrap.join(","),
                reason: format!(
                    "{} results for {} creations",
                    response.results.len(),
                    bindings.len()
                ),
            });
        }
        Ok(response
            .results
            .into_iter()
            .map(|result| {
                WireError::broker(
                    "create acls",
                    result.error_code,
                    result.error_message.map(|m| m.to_string()),
                )
                .map_or(Ok(()), Err)
            })
            .collect())
    }

    /// Deletes every binding matching each filter; per filter, the deleted bindings.
    pub async fn delete_acls(
        &self,
        filters: &[AclBindingFilter],
    ) -> Result<Vec<Result<Vec<AclBinding>, WireError>>, WireError> {
        if filters.is_empty() {
            return Ok(Vec::new());
        }
        let request = DeleteAclsRequest::default().with_filters(
            filters
                .iter()
                .map(|filter| {
                    DeleteAclsFilter::default()
                        .with_resource_type_filter(filter.resource_type.code())
                        .with_resource_name_filter(optional_text(filter.resource_name.as_ref()))
                        .with_pattern_type_filter(filter.pattern_type.code())
                        .with_principal_filter(optional_text(filter.principal.as_ref()))
                        .with_host_filter(optional_text(filter.host.as_ref()))
                        .with_operation(filter.operation.code())
                        .with_permission_type(filter.permission.code())
                })
                .collect(),
        );
        let response = self.send(&request).await?;
        Ok(response
            .filter_results
            .into_iter()
            .map(|result| {
                if let Some(error) = WireError::broker(
                    "delete acls",
                    result.error_code,
                    result.error_message.map(|m| m.to_string()),
                ) {
                    return Err(error);
                }
                Ok(result
                    .matching_acls
                    .into_iter()
                    .filter(|acl| acl.error_code == 0)
                    .map(|acl| AclBinding {
                        resource_type: ResourceType::from_code(acl.resource_type),
                        resource_name: acl.resource_name.to_string(),
                        pattern_type: PatternType::from_code(acl.pattern_type),
                        principal: acl.principal.to_string(),
                        host: acl.host.to_string(),
                        operation: AclOperation::from_code(acl.operation),
                        permission: AclPermission::from_code(acl.permission_type),
                    })
                    .collect())
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_survive() {
        for code in -1..20 {
            assert_eq!(AclOperation::from_code(code).code(), code);
            assert_eq!(ResourceType::from_code(code).code(), code);
        }
        assert_eq!(AclOperation::from_code(3), AclOperation::Read);
        assert_eq!(PatternType::Literal.code(), 3);
        assert_eq!(AclPermission::Allow.to_string(), "ALLOW");
        assert_eq!(AclOperation::from_code(99).to_string(), "UNKNOWN(99)");
    }
}
