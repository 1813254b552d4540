// Decoding one encoded image (JPEG or PNG, via stb_image) into HWC uint8 pixels, and the
// antialiased bilinear resize used to bring images to a data set's storage size.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace slimssl::data {

struct DecodedImage {
  int height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // HWC
};

// "" when `data` is a structurally complete JPEG (markers up to the end-of-image marker) or PNG
// (every chunk present with a correct CRC, up to IEND); otherwise what is wrong. stb_image
// alone would decode a truncated JPEG by padding it with zeros: a half-decoded image.
std::string image_structure_problem(const uint8_t* data, size_t size);

// Decodes to `channels` (1 = luma, 3 = RGB) or throws an Error saying what is wrong (the caller
// adds the file name).
DecodedImage decode_image(const uint8_t* data, size_t size, int channels);

// Resizes HWC uint8 with a triangle (bilinear) filter widened by the scale factor when shrinking,
// so a large image is averaged rather than point-sampled (as PIL's bilinear resize does);
// enlarging is plain bilinear with half-pixel centres.
void resize_bilinear_antialias(const uint8_t* src, int height, int width, int channels, uint8_t* dst,
                               int out_height, int out_width);

}  // namespace slimssl::data
