//! Authentication and authorization of client requests: bearer tokens checked against the
//! principals file ([`principals`]), allow rules per operation and resource ([`acl`]).

pub(crate) mod acl;
pub(crate) mod error;
pub(crate) mod principals;
pub(crate) mod token;
