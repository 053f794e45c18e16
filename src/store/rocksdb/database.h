#pragma once
// The RocksDB handle shared by RocksStore's readers and its writer thread, and how it is opened,
// tuned, and reopened after a failure. Internal to store/rocksdb.
//
// Thread-safety: readers call read() from any thread; open_again() and db() belong to the writer
// thread, which is the only one that replaces the handle.
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>

#include <memory>
#include <shared_mutex>
#include <string>

#include "base/result.h"
#include "store/rocksdb/file_system.h"
#include "store/rocksdb/rocks_store.h"

namespace chat::store::rocks {

class Database {
 public:
  static Result<std::unique_ptr<Database>> open(const std::string& path,
                                                const RocksOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // The open database for one read, under a shared lock that keeps the writer from replacing it.
  class Reader {
   public:
    rocksdb::DB* operator->() const { return db_; }
    rocksdb::DB& operator*() const { return *db_; }

   private:
    friend class Database;
    Reader(std::shared_lock<std::shared_mutex> lock, rocksdb::DB* db)
        : lock_(std::move(lock)), db_(db) {}
    std::shared_lock<std::shared_mutex> lock_;
    rocksdb::DB* db_;
  };
  // unavailable while the database is closed after a failure (and could not be opened even
  // read-only).
  Result<Reader> read();

  // Writer thread only: the database, open for writing after open() or a successful
  // open_again(); after a failed open_again() it is read-only (or null), and not to be written.
  rocksdb::DB* db() { return db_.get(); }
  // Writer thread only: closes the database, cuts off what was written but never synced, and
  // opens it again. Readers never find it closed: it is open read-only for them (if it can be)
  // until it is open for writing again. When opening for writing fails (a full disk, a failing
  // device) it returns the failure and stays read-only: a later call tries again.
  Status open_again();

 private:
  Database(std::string path, rocksdb::Options options, std::shared_ptr<GuardedFileSystem> fs,
           std::unique_ptr<rocksdb::Env> env);
  Status open_db();
  void open_read_only();  // under mu_ (exclusive); leaves db_ null when it cannot

  const std::string path_;
  rocksdb::Options options_;
  const std::shared_ptr<GuardedFileSystem> fs_;
  const std::unique_ptr<rocksdb::Env> env_;  // used by options_
  std::shared_mutex mu_;
  std::unique_ptr<rocksdb::DB> db_;  // written under mu_ (exclusive) by the writer thread only
  bool writable_ = true;             // db_ is open for writing (writer thread only)
};

rocksdb::WriteOptions durable_writes();

}  // namespace chat::store::rocks
