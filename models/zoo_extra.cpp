// Architectures beyond ResNet register here.
#include "models/zoo.h"

namespace slimssl::models {

std::vector<ZooEntry> extra_zoo_entries() { return {}; }

}  // namespace slimssl::models
