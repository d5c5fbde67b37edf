//! Tables: HBase's data model on an LSM (fjall).
