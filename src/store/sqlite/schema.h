#pragma once
// The SQLite schema and its migrations, versioned with PRAGMA user_version.
#include "base/result.h"
#include "store/sqlite/connection.h"

namespace chat::store::sqlite {

// Brings the database up to the newest schema this build knows, in one transaction. Fails with
// internal when the file was written by a newer build.
Status migrate(Connection& db);

}  // namespace chat::store::sqlite
