#include "store/rocksdb/database.h"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include <filesystem>
#include <mutex>
#include <utility>

#include "base/log.h"

namespace chat::store::rocks {
namespace {

// Sized for a small box: bounded memory, two background threads, compaction bounded by the
// level sizes (see docs/architecture.md §5).
rocksdb::Options tuned(const RocksOptions& options) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.max_background_jobs = 2;
  o.compaction_style = rocksdb::kCompactionStyleLevel;
  o.level_compaction_dynamic_level_bytes = true;
  o.write_buffer_size = options.write_buffer_bytes;
  o.max_write_buffer_number = 3;
  o.max_bytes_for_level_base = 4 * options.write_buffer_bytes;
  o.target_file_size_base = options.write_buffer_bytes;
  o.max_total_wal_size = 4 * options.write_buffer_bytes;
  o.bytes_per_sync = 1 << 20;  // SST writes trickle out instead of one burst per file
  o.compression = rocksdb::kLZ4Compression;
  o.bottommost_compression = rocksdb::kZSTD;
  // New keys are looked up too (an idempotency key not in the writer's cache): a memtable bloom
  // filter and whole-key filters in the tables answer most misses without reading a block.
  o.memtable_prefix_bloom_size_ratio = 0.02;
  o.memtable_whole_key_filtering = true;
  // The LOG file: warnings only, at most 3 of 1 MiB.
  o.info_log_level = rocksdb::WARN_LEVEL;
  o.max_log_file_size = 1 << 20;
  o.keep_log_file_num = 3;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.format_version = 5;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return o;
}

Error failure(const std::string& what, const rocksdb::Status& s) {
  return make_error(Errc::unavailable, "rocksdb: " + what + ": " + s.ToString());
}

}  // namespace

rocksdb::WriteOptions durable_writes() {
  rocksdb::WriteOptions w;
  w.sync = true;  // fdatasync of the WAL before a commit counts as done
  return w;
}

Database::Database(std::string path, rocksdb::Options options,
                   std::shared_ptr<GuardedFileSystem> fs, std::unique_ptr<rocksdb::Env> env)
    : path_(std::move(path)),
      options_(std::move(options)),
      fs_(std::move(fs)),
      env_(std::move(env)) {
  options_.env = env_.get();
}

Database::~Database() {
  std::unique_lock lock(mu_);
  if (db_) (void)db_->Close();
  db_.reset();
}

Result<std::unique_ptr<Database>> Database::open(const std::string& path,
                                                 const RocksOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec)
    return make_error(Errc::unavailable, "rocksdb: cannot create " + path + ": " + ec.message());
  auto fs = std::make_shared<GuardedFileSystem>(rocksdb::FileSystem::Default(), options.faults);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  std::unique_ptr<Database> db(new Database(path, tuned(options), fs, std::move(env)));
  if (Status s = db->open_db(); !s.ok()) return s.error();
  return db;
}

Status Database::open_db() {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options_, path_, &raw);
  if (!s.ok()) return failure("opening " + path_, s);
  std::unique_lock lock(mu_);
  db_.reset(raw);
  return Ok{};
}

Status Database::open_again() {
  if (writable_) {
    // The handle open for writing has stopped. In one step for the readers (they wait, rather
    // than find no database): close it, cut off what was written but never synced, and open the
    // database read-only, which writes nothing, so that a full disk stops sends but not sync and
    // history.
    std::unique_lock lock(mu_);
    if (db_) (void)db_->Close();  // a database stopped by an error may refuse; it closes anyway
    db_.reset();
    writable_ = false;
    if (Status s = fs_->cut_unsynced_wal_tails(); !s.ok()) return s;
    open_read_only();
  } else if (Status s = fs_->cut_unsynced_wal_tails(); !s.ok()) {
    return s;  // what an earlier failed open wrote and did not sync
  }
  if (!db_) {
    std::unique_lock lock(mu_);
    open_read_only();
  }
  // Opening for writing needs space and working writes (a new log and manifest). Meanwhile the
  // readers keep the read-only handle: a read-only instance may share the directory with one
  // open for writing, and it holds every table file open (max_open_files is unlimited), so the
  // files the new handle makes obsolete stay readable until the swap.
  if (Status s = open_db(); !s.ok()) return s;
  writable_ = true;
  return Ok{};
}

void Database::open_read_only() {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(options_, path_, &raw);
  if (s.ok()) {
    db_.reset(raw);
  } else {
    log::warn("rocksdb store: cannot open the database even read-only: ", s.ToString());
  }
}

Result<Database::Reader> Database::read() {
  std::shared_lock lock(mu_);
  if (!db_) return make_error(Errc::unavailable, "rocksdb: the database is closed after a failure");
  rocksdb::DB* db = db_.get();
  return Reader(std::move(lock), db);
}

}  // namespace chat::store::rocks
