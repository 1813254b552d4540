// Reading scalars (losses, metrics) back to the host without stalling the device. request()
// queues one copy of the scalars into pinned host memory behind the work already queued on their
// device and returns at once; wait() blocks until that copy is done. A training step requests its
// losses and reads the previous step's: by then they are long computed, so the host never waits
// for the step in flight. On the CPU the values are simply read.
#pragma once
#include <memory>
#include <vector>
#include "engine/tensor.h"

namespace slimssl {

class ScalarReadback {
 public:
  ScalarReadback();
  ~ScalarReadback();
  ScalarReadback(const ScalarReadback&) = delete;
  ScalarReadback& operator=(const ScalarReadback&) = delete;

  // One-element floating tensors, all on one device. Replaces any request not yet waited for.
  void request(const std::vector<Tensor>& scalars);
  bool pending() const { return pending_; }
  // The requested values, in order (waits for their copy only).
  std::vector<double> wait();

 private:
  struct Device;
  std::unique_ptr<Device> dev_;  // pinned buffer and event, on CUDA
  std::vector<double> host_;     // CPU values
  size_t count_ = 0;
  bool pending_ = false;
  bool on_device_ = false;
};

}  // namespace slimssl
