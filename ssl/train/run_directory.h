// Ownership of a run directory by the training run that writes it.
//
// A run claims its directory before writing anything: an advisory lock (flock) on a lock file in
// it, which records the owner's pid, host and start time. A second run on the same directory is
// refused with a message naming that owner; the kernel drops the lock when the owner exits in
// any way (SIGKILL included), so a stale lock file never blocks. A fresh run refuses a directory
// that already holds files unless told to continue (--resume) or start over (--force: the old
// contents move aside to RUN_DIR.old-<time>). Checkpoint temporaries of writers that died
// (kill -9 during a save) are removed; a live writer's never are. Before the first step, the
// directory and its checkpoints folder must accept files and the file system must have room for
// a checkpoint, so such problems cost no training.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace slimssl::train {

enum class RunStart {
  Fresh,   // the directory must be empty or new
  Resume,  // continue the run the directory holds
  Force,   // start over: the old contents move to RUN_DIR.old-<time>
};

class RunDirectory {
 public:
  // Creates `dir` if needed, takes its lock and prepares it for `start`; says what it moved or
  // removed on stdout unless `quiet`. Throws an Error naming the directory (and the owner, when
  // another process holds it) on refusal.
  RunDirectory(const std::string& dir, RunStart start, bool quiet);
  ~RunDirectory();  // releases the lock and removes the lock file
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  // The directory and its checkpoints folder accept new files, and the file system has room for
  // one checkpoint of `checkpoint_bytes` (plus a margin); otherwise an Error saying which.
  void check_writable(int64_t checkpoint_bytes) const;
  const std::string& path() const { return dir_; }
  // Where the old contents went under RunStart::Force ("" otherwise).
  const std::string& moved_to() const { return moved_to_; }

  // The lock file's name inside a run directory.
  static constexpr const char* kLockName = ".slimssl-train.lock";

 private:
  void release();
  std::string dir_, moved_to_;
  int lock_fd_ = -1;
};

// Removes the checkpoint temporaries ("NAME.tmp.<pid>.<n>") in `dir` whose writer process no
// longer exists; a temporary of this process or of a live one is kept. Returns the names removed.
std::vector<std::string> remove_dead_temporaries(const std::string& dir);

// Throws an Error unless the file system holding `dir` has `bytes` free for this user.
void check_room(const std::string& dir, int64_t bytes);

}  // namespace slimssl::train
