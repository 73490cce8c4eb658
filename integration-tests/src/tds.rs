//! In-memory SQL Server wire-protocol (TDS) test server (written by the SQL Server issue).
