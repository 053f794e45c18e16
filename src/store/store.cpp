#include "store/store.h"

namespace chat::store {

Result<std::vector<uint64_t>> InboxStore::last_seqs(const std::vector<std::string>& owners) {
  std::vector<uint64_t> heads;
  heads.reserve(owners.size());
  for (const std::string& owner : owners) {
    Result<uint64_t> head = last_seq(owner);
    if (!head.ok()) return head.error();
    heads.push_back(*head);
  }
  return heads;
}

}  // namespace chat::store
