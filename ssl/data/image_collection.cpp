#include "ssl/data/image_collection.h"
#include <algorithm>
#include <iostream>
#include <map>
#include "engine/error.h"
#include "ssl/data/file_io.h"
#include "ssl/data/thread_pool.h"

namespace slimssl::data {

void ImageCollection::decode(std::vector<EncodedImage>& batch) {
  size_t base = done_.size();
  done_.resize(base + batch.size());
  const int oh = options_.storage_height, ow = options_.storage_width;
  parallel_for(static_cast<int64_t>(batch.size()), options_.threads, [&](int64_t i) {
    EncodedImage& in = batch[i];
    Done& out = done_[base + i];
    out.path = in.path;
    out.class_name = in.class_name;
    try {
      if (in.bytes.empty()) in.bytes = read_file_bytes(in.file);
      out.image = decode_image(in.bytes.data(), in.bytes.size(), options_.channels);
      if (oh > 0 && (out.image.height != oh || out.image.width != ow)) {
        DecodedImage r{oh, ow, out.image.channels, std::vector<uint8_t>(size_t(oh) * ow * out.image.channels)};
        resize_bilinear_antialias(out.image.pixels.data(), out.image.height, out.image.width, out.image.channels,
                                  r.pixels.data(), oh, ow);
        out.image = std::move(r);
      }
    } catch (const std::exception& e) {
      out.error = e.what();
      out.image = {};  // never keep a partial result
    }
    std::vector<uint8_t>().swap(in.bytes);  // release the encoded bytes now (`= {}` would keep the capacity)
  });
  batch.clear();
}

Dataset ImageCollection::assemble(const std::vector<std::string>& classes, const std::string& source) {
  std::map<std::string, int64_t> label_of;
  for (size_t k = 0; k < classes.size(); ++k) label_of[classes[k]] = static_cast<int64_t>(k);
  std::vector<size_t> order(done_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    int64_t la = label_of.at(done_[a].class_name), lb = label_of.at(done_[b].class_name);
    return la != lb ? la < lb : done_[a].path < done_[b].path;
  });
  Dataset ds;
  std::vector<size_t> good;
  const Done* first = nullptr;
  for (size_t i : order) {
    const Done& d = done_[i];
    if (!d.error.empty()) {
      SLIMSSL_CHECK(options_.skip_bad_images, d.path, ": ", d.error);
      ds.skipped.push_back(d.path + ": " + d.error);
      continue;
    }
    if (!first) first = &d;
    SLIMSSL_CHECK(d.image.height == first->image.height && d.image.width == first->image.width, source, ": images differ in size (",
                  first->path, " is ", first->image.width, "x", first->image.height, ", ", d.path, " is ",
                  d.image.width, "x", d.image.height, "): declare a storage size to resize them on load");
    good.push_back(i);
  }
  if (!ds.skipped.empty() && !options_.quiet)
    std::cerr << "warning: " << source << ": skipped " << ds.skipped.size() << " bad image" << (ds.skipped.size() > 1 ? "s" : "")
              << " (first: " << ds.skipped.front() << ")\n";
  SLIMSSL_CHECK(!good.empty(), source, ": no decodable images");
  const int64_t h = first->image.height, w = first->image.width, c = first->image.channels;
  ds.images = Tensor::empty({static_cast<int64_t>(good.size()), h, w, c}, DType::U8);
  ds.labels = Tensor::empty({static_cast<int64_t>(good.size())}, DType::I64);
  uint8_t* img = ds.images.data<uint8_t>();
  int64_t* lab = ds.labels.data<int64_t>();
  const size_t per = size_t(h) * w * c;
  for (size_t k = 0; k < good.size(); ++k) {
    const Done& d = done_[good[k]];
    std::copy(d.image.pixels.begin(), d.image.pixels.end(), img + k * per);
    lab[k] = label_of.at(d.class_name);
  }
  ds.classes = classes;
  done_.clear();
  return ds;
}

}  // namespace slimssl::data
