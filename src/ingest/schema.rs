//! The columns of each provider's CSV, declared once per provider with [`columns!`], and how a
//! header is matched against them.

use super::error::FileError;
use crate::domain::ProviderKind;
use std::collections::BTreeMap;

/// Declares a provider's columns: one `usize` constant per column (its index in `COLUMNS`) and
/// the `COLUMNS` name list, so validators address cells by index with no string lookups per row.
macro_rules! columns {
    ($($id:ident = $name:literal),* $(,)?) => {
        columns!(@index 0usize; $($id)*);
        /// Every column this provider accepts, in canonical lower-case form.
        pub const COLUMNS: &[&str] = &[$($name),*];
    };
    (@index $n:expr; $id:ident $($rest:ident)*) => {
        pub const $id: usize = $n;
        columns!(@index $n + 1usize; $($rest)*);
    };
    (@index $n:expr;) => {};
}
pub(crate) use columns;

/// A provider's CSV shape.
pub(crate) struct Schema {
    pub provider: ProviderKind,
    pub columns: &'static [&'static str],
    /// Columns that must be in the header unless the profile has a default for them.
    pub required: &'static [usize],
    /// Columns people are likely to add that the provider's CSV deliberately lacks, with why.
    pub refused: &'static [(&'static str, &'static str)],
}

/// Where each schema column sits in this file's header, and the profile default for it.
#[derive(Debug)]
pub(crate) struct ColumnMap {
    /// Schema column -> index of the cell in a record.
    pub index: Vec<Option<usize>>,
    /// Schema column -> the profile's default value (trimmed, non-empty).
    pub defaults: Vec<Option<String>>,
    /// Record positions whose header cell is empty: ignored, but a value under them is a mistake.
    pub unnamed: Vec<usize>,
    /// Number of cells in the header.
    pub width: usize,
}

impl Schema {
    /// Matches a header (names trimmed, case-insensitive) and the profile defaults against this
    /// schema. Every header problem is collected before one error is returned.
    pub fn resolve(
        &self,
        header: &csv::StringRecord,
        defaults: &BTreeMap<String, String>,
    ) -> Result<ColumnMap, FileError> {
        let allowed = || {
            self.columns
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
        };
        let mut index = vec![None; self.columns.len()];
        let (mut unknown, mut duplicate, mut unnamed) = (Vec::new(), Vec::new(), Vec::new());
        for (pos, raw) in header.iter().enumerate() {
            let name = raw.trim().to_ascii_lowercase();
            if name.is_empty() {
                unnamed.push(pos);
                continue;
            }
            match self.columns.iter().position(|c| *c == name) {
                Some(col) if index[col].is_some() => duplicate.push(name),
                Some(col) => index[col] = Some(pos),
                None => unknown.push(name),
            }
        }
        if !duplicate.is_empty() {
            return Err(FileError::DuplicateColumns { columns: duplicate });
        }
        if !unknown.is_empty() {
            let mut hint = self
                .refused
                .iter()
                .filter(|(name, _)| unknown.iter().any(|u| u == name))
                .map(|(name, why)| format!("{name}: {why}"))
                .collect::<Vec<_>>();
            // One "column" holding tabs: a tab-separated export, read with the wrong delimiter.
            if unknown.iter().any(|u| u.contains('\t')) {
                hint.push(
                    "the header is separated by tabs; cardbatch reads files separated by , or ; \
                     as a spreadsheet's \"CSV UTF-8\" export writes them"
                        .to_string(),
                );
            }
            return Err(FileError::UnknownColumns {
                provider: self.provider,
                columns: unknown,
                allowed: allowed(),
                hint: (!hint.is_empty()).then(|| hint.join("; ")),
            });
        }
        let mut default_values = vec![None; self.columns.len()];
        let mut unknown_keys = Vec::new();
        for (key, value) in defaults {
            let key_lc = key.trim().to_ascii_lowercase();
            if key_lc == "order_ref" {
                return Err(FileError::OrderRefDefault);
            }
            match self.columns.iter().position(|c| *c == key_lc) {
                Some(col) => {
                    let v = value.trim();
                    default_values[col] = (!v.is_empty()).then(|| v.to_string());
                }
                None => unknown_keys.push(key.clone()),
            }
        }
        if !unknown_keys.is_empty() {
            return Err(FileError::UnknownDefaults {
                provider: self.provider,
                keys: unknown_keys,
                allowed: allowed(),
            });
        }
        let missing: Vec<String> = self
            .required
            .iter()
            .filter(|&&col| index[col].is_none() && default_values[col].is_none())
            .map(|&col| self.columns[col].to_string())
            .collect();
        if !missing.is_empty() {
            return Err(FileError::MissingColumns {
                provider: self.provider,
                columns: missing,
            });
        }
        Ok(ColumnMap {
            index,
            defaults: default_values,
            unnamed,
            width: header.len(),
        })
    }
}
