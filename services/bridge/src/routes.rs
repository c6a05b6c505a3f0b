//! Route table of the bridge. Handlers live in one module per resource; every one is
//! registered through `utoipa_axum::routes!`, so the OpenAPI document is generated from
//! the same table that serves requests.

use axum::Router;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ApiError, method_not_allowed, render_for_flavor, route_not_found};
use crate::openapi::ApiDoc;
use crate::state::BridgeState;
use crate::{authz, consumers, produce, status, topics, v3};

/// Every documented route, with its OpenAPI description.
pub fn api_router() -> OpenApiRouter<BridgeState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(status::root))
        .routes(routes!(status::healthy))
        .routes(routes!(status::ready))
        .routes(routes!(status::list_brokers))
        .routes(routes!(topics::list_topics))
        .routes(routes!(topics::create_topic))
        .routes(routes!(topics::get_topic, produce::produce_to_topic))
        .routes(routes!(topics::list_partitions))
        .routes(routes!(
            topics::get_partition,
            produce::produce_to_partition
        ))
        .routes(routes!(topics::get_partition_offsets))
        .routes(routes!(consumers::create_consumer))
        .routes(routes!(consumers::delete_consumer))
        .routes(routes!(
            consumers::subscribe,
            consumers::get_subscription,
            consumers::unsubscribe
        ))
        .routes(routes!(consumers::assign, consumers::get_assignments))
        .routes(routes!(consumers::seek))
        .routes(routes!(consumers::seek_beginning))
        .routes(routes!(consumers::seek_end))
        .routes(routes!(consumers::get_records))
        .routes(routes!(consumers::commit_offsets, consumers::get_offsets))
        .routes(routes!(v3::clusters::list_clusters))
        .routes(routes!(v3::clusters::get_cluster))
        .routes(routes!(
            v3::acls::list_acls,
            v3::acls::create_acl,
            v3::acls::delete_acls
        ))
        .routes(routes!(v3::acls::create_acls))
        .routes(routes!(v3::broker_configs::list_cluster_configs))
        .routes(routes!(
            v3::broker_configs::get_cluster_config,
            v3::broker_configs::update_cluster_config,
            v3::broker_configs::reset_cluster_config
        ))
        .routes(routes!(v3::broker_configs::alter_cluster_configs))
        .routes(routes!(v3::broker_configs::list_broker_configs))
        .routes(routes!(
            v3::broker_configs::get_broker_config,
            v3::broker_configs::update_broker_config,
            v3::broker_configs::reset_broker_config
        ))
        .routes(routes!(v3::broker_configs::alter_broker_configs))
        .routes(routes!(v3::topics::list_topics, v3::topics::create_topic))
        .routes(routes!(
            v3::topics::get_topic,
            v3::topics::update_partition_count,
            v3::topics::delete_topic
        ))
        .routes(routes!(v3::configs::list_all_topic_configs))
        .routes(routes!(v3::configs::list_topic_configs))
        .routes(routes!(
            v3::configs::get_topic_config,
            v3::configs::update_topic_config,
            v3::configs::reset_topic_config
        ))
        .routes(routes!(v3::configs::alter_topic_configs))
        .routes(routes!(v3::partitions::list_partitions))
        .routes(routes!(v3::partitions::get_partition))
        .routes(routes!(v3::partitions::list_replicas))
        .routes(routes!(v3::partitions::get_replica))
        .routes(routes!(v3::partitions::list_brokers))
        .routes(routes!(v3::partitions::get_broker))
        .routes(routes!(v3::records::produce_records))
        .routes(routes!(v3::records::produce_batch))
        .routes(routes!(v3::groups::list_groups))
        .routes(routes!(v3::members::get_group))
        .routes(routes!(v3::members::list_consumers))
        .routes(routes!(v3::members::get_consumer))
        .routes(routes!(v3::members::list_assignments))
        .routes(routes!(v3::groups::group_lag_list))
        .routes(routes!(v3::groups::group_partition_lag))
        .routes(routes!(v3::groups::group_lag_summary))
}

/// The bridge's HTTP service: every route, `/openapi.json`, Swagger UI at `/swagger-ui`,
/// errors in the listener flavor's body, and the edge limits.
pub fn router(state: BridgeState) -> Router {
    let listener = state.config().listener.clone();
    let flavor = state.config().flavor;
    let (routes, mut openapi) = api_router().split_for_parts();
    crate::openapi::complete(&mut openapi);
    let routes = routes
        .merge(SwaggerUi::new("/swagger-ui").url("/openapi.json", openapi))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authz::authorize,
        ))
        // Before the ACL layer: a forwarded request is checked by the owner, which knows
        // the instance's principal.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::cluster::route::route,
        ))
        .with_state(state)
        .layer(axum::middleware::map_response_with_state(
            flavor,
            render_for_flavor,
        ));
    edge::apply_limits(routes, &listener, move |rejection| {
        ApiError::from_edge_in(flavor, rejection)
    })
}
