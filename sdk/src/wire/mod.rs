//! The JSON wire types of silt's v1 HTTP API, shared by the broker and the SDK so the two
//! cannot drift. Every request type rejects unknown fields: a misspelt field is an error
//! (`invalid_request`), never silently ignored.

pub mod binary;
pub mod error;
pub mod groups;
pub mod integer;
pub mod json_check;
pub mod records;
pub mod topics;

pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use groups::{
    CommitOffsetsRequest, CommittedOffset, GroupDescription, GroupList, GroupMember, GroupOffsets,
    GroupSummary, HeartbeatRequest, JoinGroupRequest, MemberState, OffsetToCommit,
    ResetOffsetsRequest, ResetTo, TopicPartition,
};
pub use records::{
    FetchResponse, FetchedRecord, OffsetLookup, ProduceCommit, ProduceRecord, ProduceRequest,
    ProduceResponse, ProducerInfo, RecordOffset,
};
pub use topics::{
    AlterTopicRequest, CreateTopicRequest, DEFAULT_TOPIC_PAGE, MAX_RETENTION_BYTES,
    MAX_RETENTION_MS, MAX_TOPIC_PAGE, PartitionInfo, Topic, TopicConfig, TopicConfigPatch,
    TopicList,
};
