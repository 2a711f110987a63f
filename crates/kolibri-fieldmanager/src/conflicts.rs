//! Ownership conflicts of an apply, and upstream's wording of them.

use crate::path::Path;

/// A field the applier would change that another manager owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The owner as conflicts name it (`"mgr" using apps/v1`, see `Entry::describe`).
    pub manager: String,
    pub path: Path,
}

/// All conflicts of one apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conflicts(pub Vec<Conflict>);

impl Conflicts {
    /// The `Status` message: one conflict inline, several grouped by sorted manager.
    pub fn message(&self) -> String {
        match self.0.as_slice() {
            [one] => format!("Apply failed with 1 conflict: conflict with {}: {}", one.manager, one.path),
            many => {
                let mut managers: Vec<&str> = many.iter().map(|c| c.manager.as_str()).collect();
                managers.sort_unstable();
                managers.dedup();
                let mut lines = Vec::new();
                for m in managers {
                    lines.push(format!("conflicts with {m}:"));
                    for c in many.iter().filter(|c| c.manager == m) {
                        lines.push(format!("- {}", c.path));
                    }
                }
                format!("Apply failed with {} conflicts: {}", many.len(), lines.join("\n"))
            }
        }
    }

    /// One `(message, field)` per conflict, for the `Status` causes
    /// (reason `FieldManagerConflict`).
    pub fn causes(&self) -> Vec<(String, String)> {
        self.0.iter().map(|c| (format!("conflict with {}", c.manager), c.path.to_string())).collect()
    }
}

impl std::fmt::Display for Conflicts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}
