// Decodes a set of encoded images (from a folder or an archive) on the thread pool and assembles
// them into a Dataset, in a fixed order (class, then path) whatever order they arrived in.
#pragma once
#include <string>
#include <vector>
#include "ssl/data/dataset.h"
#include "ssl/data/image_decode.h"

namespace slimssl::data {

struct EncodedImage {
  std::string path;        // shown in messages: the file path, or "archive:member"
  std::string class_name;  // the folder it sits in
  std::string file;        // read from disk when `bytes` is empty
  std::vector<uint8_t> bytes;
};

class ImageCollection {
 public:
  explicit ImageCollection(const LoadOptions& options) : options_(options) {}
  // Decodes (and resizes to the storage size) every image of the batch; the batch is emptied.
  void decode(std::vector<EncodedImage>& batch);
  size_t count() const { return done_.size(); }
  // Labels follow `classes` (sorted names); every image's class must be among them. Throws on
  // the first bad image unless options.skip_bad_images. `source` names the folder or archive.
  Dataset assemble(const std::vector<std::string>& classes, const std::string& source);

 private:
  struct Done {
    std::string path, class_name, error;
    DecodedImage image;
  };
  LoadOptions options_;
  std::vector<Done> done_;
};

}  // namespace slimssl::data
