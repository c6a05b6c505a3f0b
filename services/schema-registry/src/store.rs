//! The `_schemas` topic: its [`records`], the [`state`] they fold into, and the [`kafka`]
//! reader and writer.

pub mod kafka;
pub mod records;
pub mod state;
