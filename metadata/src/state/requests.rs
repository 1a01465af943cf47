//! The request window: the results of the last [`REQUEST_WINDOW`] commands that carried a
//! request id ([`Command::request_id`](crate::types::Command::request_id)), so a command
//! retried after a lost reply is answered with its first result instead of being applied
//! again (a retried `CreateTopic` would otherwise answer `TopicAlreadyExists` to its own
//! creator).
//!
//! Invariants: at most [`REQUEST_WINDOW`] ids are kept, the oldest forgotten first; the
//! window is part of the state, so snapshots carry it and every replica answers alike.

use serde::{Deserialize, Serialize};

use crate::limits::REQUEST_WINDOW;
use crate::types::CommandResult;

/// Recent request ids and their results, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Requests {
    /// `(request id, result)`, oldest first. A linear search: the window is bounded and only
    /// the rare topic and producer-id commands look in it.
    recent: imbl::Vector<(String, CommandResult)>,
}

impl Requests {
    /// The result the command with `request_id` got, if it is in the window.
    pub(crate) fn answer(&self, request_id: &str) -> Option<&CommandResult> {
        let mut recent = self.recent.iter();
        recent.find(|(id, _)| id == request_id).map(|(_, r)| r)
    }

    /// Remembers `result` for `request_id`, forgetting the oldest id past the window.
    pub(crate) fn record(&mut self, request_id: &str, result: &CommandResult) {
        while self.recent.len() >= REQUEST_WINDOW {
            self.recent.pop_front();
        }
        self.recent
            .push_back((request_id.to_owned(), result.clone()));
    }

    /// How many ids the window holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.recent.len()
    }
}
