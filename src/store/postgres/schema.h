#pragma once
// The PostgreSQL schema and its migrations, versioned in a schema_version table.
#include "base/result.h"
#include "store/postgres/connection.h"

namespace chat::store::postgres {

// Brings the schema (the first of the connection's search_path) up to the newest version this build
// knows, in one transaction that holds an advisory lock, so that instances starting together
// migrate once and the others wait and find it done. Fails with internal when the schema was
// written by a newer build.
Status migrate(Connection& db);

}  // namespace chat::store::postgres
