use crate::domain::OrderState;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database URL is neither `sqlite:` nor `postgres://`.
    #[error("unsupported database url `{0}`: expected sqlite://path or postgres://user@host/db")]
    UnsupportedUrl(String),
    /// A batch id that is not in the `batches` table.
    #[error("no batch with id {0}")]
    BatchNotFound(uuid::Uuid),
    /// The database holds a value this version of cardbatch cannot read (a hand-edited row, or a
    /// newer schema).
    #[error("corrupt row in {table}: {problem}")]
    Corrupt {
        /// The table the row is in.
        table: &'static str,
        /// What could not be read.
        problem: String,
    },
    /// A state transition the queue refuses (e.g. completing an order into `queued`).
    #[error("an order cannot be completed into state {0}")]
    InvalidCompletion(OrderState),
    /// Only `dead` and `needs_review` orders can be requeued.
    #[error("only dead and needs_review orders can be requeued, not {0}")]
    InvalidRequeue(OrderState),
    /// The batch's state forbids the action (resume a batch that is not paused, cancel a
    /// canceled one, ...).
    #[error("batch {batch} is {state}: cannot {action} it")]
    BatchStateForbids {
        /// The batch.
        batch: uuid::Uuid,
        /// Its state.
        state: crate::domain::BatchState,
        /// What was asked (`pause`, `resume`, `cancel`, `approve`).
        action: &'static str,
    },
    /// Maker-checker: the batch's submitter asked to approve it.
    #[error("batch {0} cannot be approved by the one who submitted it")]
    SelfApproval(uuid::Uuid),
    /// An order id that is not in the `orders` table.
    #[error("no order with id {0}")]
    OrderNotFound(i64),
    /// Card refs are attached by hand only to `needs_review` orders.
    #[error("card refs can be attached only to a needs_review order, not a {0} one")]
    InvalidAttach(OrderState),
    /// An API token of that name exists already.
    #[error("a token named `{0}` exists already")]
    TokenNameTaken(String),
    #[error("database error: {0}")]
    /// The database refused or failed a statement, or could not be reached.
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    /// A migration could not be applied (or the database is newer than this build).
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Error {
    /// Whether the database could not be reached or was going away (a restart, a failover, no
    /// free connection), so that trying again later may succeed. A wrong URL, a refused login
    /// or a bad statement is not.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Sqlx(e) | Error::Migrate(sqlx::migrate::MigrateError::Execute(e)) => {
                sqlx_transient(e)
            }
            _ => false,
        }
    }
}

fn sqlx_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        // SQLSTATE classes 08 (connection exception), 53 (insufficient resources: too many
        // connections) and 57 (operator intervention: shutting down, starting up).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("53") || c.starts_with("57")),
        _ => false,
    }
}

/// Store results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn corrupt(table: &'static str, problem: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        table,
        problem: problem.to_string(),
    }
}
