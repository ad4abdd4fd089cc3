#include <doctest/doctest.h>

#include "core/crc16.hpp"

using namespace m2m;

TEST_CASE("crc16 check values over \"123456789\"") {
  auto b = as_bytes("123456789");
  CHECK(crc16(CrcVariant::modbus, b) == 0x4B37);
  CHECK(crc16(CrcVariant::ccitt_false, b) == 0x29B1);
  CHECK(crc16(CrcVariant::xmodem, b) == 0x31C3);
}

TEST_CASE("crc16 slice-by-16 agrees with a bitwise model at every length and alignment") {
  Bytes data(100);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 37 + 11);
  auto bitwise = [](CrcVariant v, ByteView d) {
    std::uint16_t crc = v == CrcVariant::xmodem ? 0 : 0xFFFF;
    for (std::uint8_t x : d) {
      if (v == CrcVariant::modbus) {
        crc ^= x;
        for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0xA001 : crc >> 1;
      } else {
        crc ^= static_cast<std::uint16_t>(x << 8);
        for (int k = 0; k < 8; ++k) crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021) : static_cast<std::uint16_t>(crc << 1);
      }
    }
    return crc;
  };
  for (auto v : {CrcVariant::modbus, CrcVariant::ccitt_false, CrcVariant::xmodem})
    for (std::size_t start = 0; start < 8; ++start)
      for (std::size_t len = 0; start + len <= data.size(); ++len) {
        ByteView d(data.data() + start, len);
        REQUIRE(crc16(v, d) == bitwise(v, d));
      }
}

TEST_CASE("crc variant names") {
  CHECK(parse_crc_variant("modbus") == CrcVariant::modbus);
  CHECK(parse_crc_variant("ccitt-false") == CrcVariant::ccitt_false);
  CHECK(parse_crc_variant("xmodem") == CrcVariant::xmodem);
  CHECK_FALSE(parse_crc_variant("crc32"));
  CHECK(to_string(CrcVariant::ccitt_false) == "ccitt-false");
}
