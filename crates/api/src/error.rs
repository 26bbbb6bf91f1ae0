//! The one error type at the API's boundary.
//!
//! Every error a client sees carries `extensions.code` from a fixed list, a message in
//! Chinese that a village secretary can act on, and where useful an English hint in
//! `extensions.detail`. Never a SQL message, a file path or a stack trace: infrastructure
//! failures are logged on the server with their detail and answered with their code only.
//!
//! | code | meaning |
//! |---|---|
//! | `UNAUTHENTICATED` | no token, an unknown, expired or revoked one, or a person no longer in post |
//! | `FORBIDDEN` | the caller's role or scope does not allow it |
//! | `NOT_FOUND` | no such task, village, listing, procedure … |
//! | `INVALID_INPUT` | an argument out of its bounds, a malformed id, a date in the wrong shape |
//! | `SCREENING_REJECTED` | a task that the 事项清单 screening refused |
//! | `STEP_RETURNED` | a procedure step recorded without its required evidence, returned |
//! | `CONFLICT` | the record changed under the command, or it was already done |
//! | `RULE_VIOLATION` and the domain's other codes | a domain rule refused the command |
//! | `UNAVAILABLE` | the database is out of reach, or a wait (`minPosition`) ran out; try again |
//! | `READ_ONLY` | this server serves a read-only copy |
//! | `STORAGE_FULL` | the database's disk is full: nothing was written; try again once space is freed |
//! | `INTERNAL` | a bug: logged, never detailed to the client |

use async_graphql::ErrorExtensions;
use xingcun_domain::Rejection;
use xingcun_store::{ExecuteError, StoreError};

/// An error as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            detail: None,
        }
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn unauthenticated() -> Self {
        ApiError::new("UNAUTHENTICATED", "请先登录:请求须带有效的访问令牌")
            .detail("send Authorization: Bearer <token>")
    }
    pub fn forbidden(what: &str) -> Self {
        ApiError::new("FORBIDDEN", format!("无权操作:{what}"))
    }
    pub fn not_found(what: &str) -> Self {
        ApiError::new("NOT_FOUND", format!("未找到{what}"))
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new("INVALID_INPUT", message)
    }
    /// A domain rule refused the command: its code and its Chinese message.
    pub fn rejected(rejection: &dyn Rejection) -> Self {
        ApiError::new(rejection.code(), rejection.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::InvalidInput(m) | StoreError::IdempotencyClash(m) => {
                ApiError::invalid("输入不符合要求").detail(m.clone())
            }
            StoreError::InvalidStreamId { .. } => ApiError::invalid("编号格式不正确"),
            StoreError::Conflict { .. } => {
                ApiError::new("CONFLICT", "记录刚被他人修改,请刷新后重试")
            }
            StoreError::ReadOnly(_) => ApiError::new("READ_ONLY", "这是只读副本,不能修改记录"),
            StoreError::StorageFull(_) => {
                tracing::error!(error = %e, "the database's disk is full");
                ApiError::new(
                    "STORAGE_FULL",
                    "服务器存储空间已满,本次记录未保存;请联系管理员清理磁盘后重试",
                )
            }
            StoreError::Unavailable(_)
            | StoreError::Unreachable { .. }
            | StoreError::Closed
            | StoreError::Database(_) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::new("UNAVAILABLE", "系统暂时无法访问数据库,请稍后重试")
            }
            _ => {
                tracing::error!(error = %e, "internal store error");
                ApiError::new("INTERNAL", "系统内部错误,已记录,请联系管理员")
            }
        }
    }
}

impl From<ExecuteError> for ApiError {
    fn from(e: ExecuteError) -> Self {
        match e {
            ExecuteError::Store(s) => s.into(),
            ExecuteError::Conflict { .. } | ExecuteError::Diverged { .. } => {
                ApiError::new("CONFLICT", "记录刚被他人修改,请刷新后重试")
            }
            ExecuteError::Undecodable { .. } => {
                tracing::error!(error = %e, "undecodable stream");
                ApiError::new("INTERNAL", "系统内部错误,已记录,请联系管理员")
            }
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        async_graphql::Error::new(e.message).extend_with(|_, ext| {
            ext.set("code", e.code);
            if let Some(detail) = &e.detail {
                ext.set("detail", detail.as_str());
            }
        })
    }
}

/// What resolvers return.
pub type ApiResult<T> = Result<T, async_graphql::Error>;
