// A CUDA graph of the work that a piece of host code queues on a device's stream: captured once,
// replayed with one launch. The captured code runs on the host during capture (its ops allocate,
// record autograd, call kernels), but its device work is recorded, not run: replay() runs it,
// including the first time. Replays use the addresses of the capture: inputs and outputs live in
// fixed tensors, values that change between replays in device memory (engine/step_scalars.h), and
// the graph's memory is held by its pool (engine/graph_pool.h) until the graph goes.
//
// What cannot be captured makes the capture fail with an Error naming it: a read-back or a host
// copy, a synchronization, growing the CUDA context's workspace, a device without graphs (the
// CPU). The caller then runs its work eagerly.
#pragma once
#include <functional>
#include <memory>
#include "engine/device.h"

namespace slimssl {

class DeviceGraph {
 public:
  // Whether work on `device` can be captured (a CUDA device, real or emulated).
  static bool supported(Device device);
  // Captures what `work` queues on `device`'s stream. Throws an Error when the capture fails
  // (after leaving the stream out of capture mode; nothing of `work` has run on the device).
  DeviceGraph(Device device, const std::function<void()>& work);
  ~DeviceGraph();
  DeviceGraph(const DeviceGraph&) = delete;
  DeviceGraph& operator=(const DeviceGraph&) = delete;

  // Queues the captured work on the device's stream.
  void replay();
  // Device bytes the graph holds beyond its live tensors (freed blocks kept for replays).
  size_t held_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace slimssl
