//! The file list of an image folder (`root/<class>/<image>`): classes from the sorted folder
//! names, every JPEG/PNG with its size, and files of other kinds counted and skipped. Scanning
//! a million files takes minutes on a network disk, so the list is cached (one text file per
//! folder in the cache directory) and read back while every class folder is as it was (same
//! names, same modification times: adding or removing a file changes its folder's).

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use rayon::prelude::*;

use crate::error::{Error, Result};

/// One image of an indexed folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedFile {
    /// Its path below the root, `class/name.jpg`.
    pub name: String,
    /// Its size in bytes when indexed.
    pub bytes: u64,
    /// Its class: the place of its folder among the sorted class folders.
    pub label: u16,
}

/// The images of a folder of class folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderIndex {
    root: PathBuf,
    classes: Vec<ClassDir>,
    files: Vec<IndexedFile>,
    skipped: usize,
}

/// A class folder as it was when indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClassDir {
    name: String,
    modified_ns: u128,
}

/// How [`FolderIndex::open`] got its list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexOrigin {
    /// Read from this cache file.
    Cached(PathBuf),
    /// Scanned now, and written to this cache file (`Err`: why it could not be).
    Scanned(std::result::Result<PathBuf, String>),
}

/// The most classes a folder may have (labels are `u16`).
const MAX_CLASSES: usize = u16::MAX as usize;
/// First line of a cache file.
const MAGIC: &str = "proxyless folder index 1";

/// Whether `path` names an image the loader reads.
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
}

impl FolderIndex {
    /// The index of `root`: from its cache in `cache_dir` when every class folder is
    /// unchanged, else scanned (and cached there).
    pub fn open(root: &Path, cache_dir: &Path) -> Result<(Self, IndexOrigin)> {
        let classes = class_dirs(root)?;
        let cache = cache_file(root, cache_dir);
        if let Ok(text) = std::fs::read_to_string(&cache)
            && let Some(index) = Self::parse(&text, root)
            && index.classes == classes
        {
            return Ok((index, IndexOrigin::Cached(cache)));
        }
        let index = Self::scan_classes(root, classes)?;
        let written = proxyless_plumbing::write_atomic(&cache, index.to_text().as_bytes())
            .map(|()| cache.clone())
            .map_err(|e| format!("{}: {e}", cache.display()));
        Ok((index, IndexOrigin::Scanned(written)))
    }

    /// Scans `root` now, without a cache.
    pub fn scan(root: &Path) -> Result<Self> {
        Self::scan_classes(root, class_dirs(root)?)
    }

    fn scan_classes(root: &Path, classes: Vec<ClassDir>) -> Result<Self> {
        let per_class: Vec<(Vec<IndexedFile>, usize)> = classes
            .par_iter()
            .enumerate()
            .map(|(label, class)| scan_class(root, class, label as u16))
            .collect::<Result<_>>()?;
        let skipped = per_class.iter().map(|(_, s)| s).sum();
        let files = per_class.into_iter().flat_map(|(f, _)| f).collect();
        Ok(Self {
            root: root.to_path_buf(),
            classes,
            files,
            skipped,
        })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no images (never, for an index that opened).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The class names, in label order.
    pub fn class_names(&self) -> Vec<String> {
        self.classes.iter().map(|c| c.name.clone()).collect()
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }

    /// Image `i`.
    pub fn file(&self, i: usize) -> &IndexedFile {
        &self.files[i]
    }

    /// The full path of image `i`.
    pub fn path(&self, i: usize) -> PathBuf {
        self.root.join(&self.files[i].name)
    }

    /// Files in the class folders that are not images (or whose names cannot be indexed),
    /// skipped as torchvision's `ImageFolder` skips them.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The cache file's text: header, class folders, then one line per image.
    fn to_text(&self) -> String {
        let mut text = format!("{MAGIC}\nskipped {}\n", self.skipped);
        for c in &self.classes {
            text.push_str(&format!("class {} {}\n", c.modified_ns, c.name));
        }
        for f in &self.files {
            text.push_str(&format!("file {} {} {}\n", f.label, f.bytes, f.name));
        }
        text
    }

    /// Reads a cache file's text; `None` when it is not one (a damaged cache is scanned again).
    fn parse(text: &str, root: &Path) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let skipped = lines.next()?.strip_prefix("skipped ")?.parse().ok()?;
        let (mut classes, mut files) = (Vec::new(), Vec::new());
        for line in lines {
            let (kind, rest) = line.split_once(' ')?;
            match kind {
                "class" => {
                    let (ns, name) = rest.split_once(' ')?;
                    classes.push(ClassDir {
                        name: name.to_string(),
                        modified_ns: ns.parse().ok()?,
                    });
                }
                "file" => {
                    let mut parts = rest.splitn(3, ' ');
                    let label: u16 = parts.next()?.parse().ok()?;
                    let bytes = parts.next()?.parse().ok()?;
                    let name = parts.next()?.to_string();
                    if label as usize >= classes.len() {
                        return None;
                    }
                    files.push(IndexedFile { name, bytes, label });
                }
                _ => return None,
            }
        }
        (!files.is_empty()).then(|| Self {
            root: root.to_path_buf(),
            classes,
            files,
            skipped,
        })
    }
}

/// The class names of `root`'s class folders, sorted, without listing their files.
pub fn class_names(root: &Path) -> Result<Vec<String>> {
    Ok(class_dirs(root)?.into_iter().map(|c| c.name).collect())
}

/// The cache file of `root`: named by a hash of its absolute path.
fn cache_file(root: &Path, cache_dir: &Path) -> PathBuf {
    let absolute = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let hash = absolute
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    cache_dir
        .join("folder-index")
        .join(format!("{hash:016x}.txt"))
}

/// The class folders of `root`, sorted by name, with their modification times.
fn class_dirs(root: &Path) -> Result<Vec<ClassDir>> {
    let entries = std::fs::read_dir(root).map_err(|e| Error::io(root, e))?;
    let mut classes = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        let name = entry
            .file_name()
            .to_str()
            .map(str::to_string)
            .ok_or_else(|| Error::format(&path, "a class folder's name must be valid UTF-8"))?;
        if name.contains('\n') {
            return Err(Error::format(
                &path,
                "a class folder's name holds a line break",
            ));
        }
        classes.push(ClassDir {
            name,
            modified_ns: modified_ns(&meta),
        });
    }
    classes.sort_by(|a, b| a.name.cmp(&b.name));
    if classes.is_empty() {
        return Err(Error::Missing {
            path: root.to_path_buf(),
            hint: "expected one sub-folder per class holding .jpg/.jpeg/.png images".into(),
        });
    }
    if classes.len() > MAX_CLASSES {
        return Err(Error::format(
            root,
            format!(
                "{} class folders; at most {MAX_CLASSES} are supported",
                classes.len()
            ),
        ));
    }
    Ok(classes)
}

fn modified_ns(meta: &std::fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// The images of one class folder, sorted by name, and the number of other files.
fn scan_class(root: &Path, class: &ClassDir, label: u16) -> Result<(Vec<IndexedFile>, usize)> {
    let dir = root.join(&class.name);
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    let (mut files, mut skipped) = (Vec::new(), 0);
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let usable = name.to_str().filter(|n| !n.contains('\n'));
        match (usable, is_image(&path)) {
            (Some(name), true) => {
                let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
                if meta.is_file() {
                    files.push(IndexedFile {
                        name: format!("{}/{name}", class.name),
                        bytes: meta.len(),
                        label,
                    });
                } else {
                    skipped += 1;
                }
            }
            _ => skipped += 1,
        }
    }
    if files.is_empty() {
        return Err(Error::Missing {
            path: dir,
            hint: "this class folder holds no .jpg/.jpeg/.png images (every class needs one)"
                .into(),
        });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((files, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(classes: &[(&str, usize)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (class, n) in classes {
            std::fs::create_dir_all(dir.path().join(class)).unwrap();
            for i in 0..*n {
                std::fs::write(dir.path().join(class).join(format!("{i}.jpg")), [0u8; 3]).unwrap();
            }
        }
        dir
    }

    #[test]
    fn classes_are_sorted_files_sized_and_other_files_counted() {
        let dir = folder(&[("dog", 2), ("cat", 3)]);
        std::fs::write(dir.path().join("cat/notes.txt"), "x").unwrap();
        std::fs::write(dir.path().join("README"), "not a class").unwrap();
        let index = FolderIndex::scan(dir.path()).unwrap();
        assert_eq!(index.class_names(), ["cat", "dog"]);
        assert_eq!(index.len(), 5);
        assert_eq!(index.skipped(), 1);
        assert_eq!(index.file(0).name, "cat/0.jpg");
        assert_eq!((index.file(3).label, index.file(3).bytes), (1, 3));
        assert_eq!(index.path(4), dir.path().join("dog/1.jpg"));
    }

    #[test]
    fn the_cache_is_read_back_until_a_class_folder_changes() {
        let dir = folder(&[("a", 2), ("b", 1)]);
        let cache = tempfile::tempdir().unwrap();
        let (first, origin) = FolderIndex::open(dir.path(), cache.path()).unwrap();
        let IndexOrigin::Scanned(Ok(file)) = origin else {
            panic!("{origin:?}")
        };
        let (again, origin) = FolderIndex::open(dir.path(), cache.path()).unwrap();
        assert_eq!(origin, IndexOrigin::Cached(file.clone()));
        assert_eq!(again, first);
        // A new image changes its folder's modification time: scanned again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("b/new.png"), [1u8]).unwrap();
        let (third, origin) = FolderIndex::open(dir.path(), cache.path()).unwrap();
        assert!(matches!(origin, IndexOrigin::Scanned(Ok(_))), "{origin:?}");
        assert_eq!(third.len(), 4);
        // A damaged cache is scanned again, not trusted.
        std::fs::write(&file, "proxyless folder index 1\nskipped x\n").unwrap();
        let (fourth, origin) = FolderIndex::open(dir.path(), cache.path()).unwrap();
        assert!(matches!(origin, IndexOrigin::Scanned(Ok(_))));
        assert_eq!(fourth, third);
    }

    #[test]
    fn empty_classes_and_folders_without_classes_are_named() {
        let dir = folder(&[("a", 1), ("empty", 0)]);
        let err = FolderIndex::scan(dir.path()).unwrap_err().to_string();
        assert!(err.contains("empty") && err.contains("no .jpg"), "{err}");
        let flat = tempfile::tempdir().unwrap();
        std::fs::write(flat.path().join("x.jpg"), [0u8]).unwrap();
        let err = FolderIndex::scan(flat.path()).unwrap_err().to_string();
        assert!(err.contains("one sub-folder per class"), "{err}");
    }
}
