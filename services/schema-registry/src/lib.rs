mod model;
pub mod schema;
pub mod store;
