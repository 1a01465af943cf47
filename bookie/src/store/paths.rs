//! Object names: the only place silt formats or parses them (layout table in FORMAT.md).
//!
//! Segments live at `<prefix>/segments/<hh>/<ULID>.seg`, where `<hh>` is the low byte of the
//! CRC32C of the ULID's 26-character text, as two lowercase hex digits. ULIDs start with
//! the time, so without `<hh>` consecutive segments would share one S3 key prefix (and its
//! request-rate limit); `<hh>` spreads them over 256 prefixes. CRC32C is a fixed function,
//! so the name of a ULID never changes between versions or machines.

use object_store::path::{Path, PathPart};
use ulid::Ulid;

/// Folder (under the prefix) holding level-0 segments.
pub const SEGMENTS_DIR: &str = "segments";
/// File extension of segment objects.
pub const SEGMENT_EXTENSION: &str = "seg";

/// The two-hex-digit spread folder of a segment id.
pub fn spread_dir(id: Ulid) -> String {
    let crc = crc32c::crc32c(id.to_string().as_bytes());
    format!("{:02x}", crc & 0xff)
}

/// `<prefix>/segments`.
pub fn segments_root(prefix: &Path) -> Path {
    prefix.clone().join(SEGMENTS_DIR)
}

/// `<prefix>/segments/<hh>/<ULID>.seg`.
pub fn segment_path(prefix: &Path, id: Ulid) -> Path {
    segments_root(prefix)
        .join(spread_dir(id).as_str())
        .join(format!("{id}.{SEGMENT_EXTENSION}").as_str())
}

/// The segment id of a path built by [`segment_path`] (any prefix), else `None`. The
/// spread folder must match the id.
pub fn segment_id(path: &Path) -> Option<Ulid> {
    let parts: Vec<PathPart<'_>> = path.parts().collect();
    let [.., dir, spread, file] = parts.as_slice() else {
        return None;
    };
    if dir.as_ref() != SEGMENTS_DIR {
        return None;
    }
    let stem = file.as_ref().strip_suffix(".seg")?;
    let id = Ulid::from_string(stem).ok()?;
    (spread.as_ref() == spread_dir(id) && id.to_string() == stem).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_path_layout_and_round_trip() {
        let id = Ulid::from_parts(1_700_000_000_000, 42);
        let prefix = Path::from("cluster/a");
        let path = segment_path(&prefix, id);
        let text = path.to_string();
        assert!(text.starts_with("cluster/a/segments/"), "{text}");
        assert!(text.ends_with(&format!("/{id}.seg")), "{text}");
        let spread = text.split('/').nth(3).unwrap();
        assert_eq!(spread.len(), 2);
        assert!(spread.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(segment_id(&path), Some(id));
        let bare = segment_path(&Path::default(), id);
        assert_eq!(
            bare.to_string(),
            format!("segments/{}/{id}.seg", spread_dir(id))
        );
        assert_eq!(segment_id(&bare), Some(id));
    }

    #[test]
    fn spread_dir_is_stable_and_spreads() {
        // Pinned: changing the hash would rename every stored segment.
        let id = Ulid::from_string("01ARZ3NDEKTSV4RRFFQ69G5FAV").unwrap();
        assert_eq!(
            spread_dir(id),
            format!(
                "{:02x}",
                crc32c::crc32c(b"01ARZ3NDEKTSV4RRFFQ69G5FAV") & 0xff
            )
        );
        let dirs: std::collections::HashSet<String> = (0..200u128)
            .map(|n| spread_dir(Ulid::from_parts(1_700_000_000_000, n)))
            .collect();
        assert!(dirs.len() > 50, "{}", dirs.len());
    }

    #[test]
    fn foreign_paths_have_no_segment_id() {
        let id = Ulid::from_parts(1, 2);
        for text in [
            "segments/zz/01ARZ3NDEKTSV4RRFFQ69G5FAV.seg".to_owned(),
            format!("segments/{}/{id}.parquet", spread_dir(id)),
            format!("other/{}/{id}.seg", spread_dir(id)),
            format!("{id}.seg"),
            "segments/00/not-a-ulid.seg".to_owned(),
        ] {
            assert_eq!(segment_id(&Path::from(text.as_str())), None, "{text}");
        }
    }
}
