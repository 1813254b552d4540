// Host -> device copies of a streamed batch that never wait for work queued after them: the bytes
// go through pinned staging slots owned here (two per device, each grown to the largest batch seen),
// and a slot is refilled only once the device has copied out of it, which for the slot used two
// batches ago happened before that batch's kernels ran. So the host fills batch k + 1's slot while
// the device still computes on batch k. (CudaContext::upload stages through fixed 4 MiB buffers
// and, for a larger copy or several copies in a row, waits for its own earlier chunks, which sit
// behind everything already queued on the stream.) Built only with CUDA.
#pragma once
#include <cstddef>
#include <initializer_list>
#include "engine/device.h"

namespace slimssl::data {

struct StagedPart {
  const void* host;  // any host memory; reusable as soon as stage_to_device returns
  void* device;      // device memory on `device`
  size_t bytes;
};

// Copies every part into one pinned slot, then queues the device copies on the device's stream.
// Returns when the host side is done.
void stage_to_device(Device device, std::initializer_list<StagedPart> parts);

}  // namespace slimssl::data
