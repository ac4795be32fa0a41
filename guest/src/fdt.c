/* Just enough flattened device tree to find /chosen/bootargs (QEMU -append). */
#include <stdint.h>

#include "demo.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_NOP 4u
#define FDT_END 9u

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static uint32_t align4(uint32_t v)
{
	return (v + 3) & ~3u;
}

static uint32_t str_len(const char *s)
{
	uint32_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* Returns the bootargs string, "" when there is none, or NULL when dtb is not a DTB. */
const char *fdt_bootargs(uint64_t dtb)
{
	const uint8_t *base = (const uint8_t *)(uintptr_t)dtb;
	if (be32(base) != FDT_MAGIC)
		return 0;
	uint32_t total = be32(base + 4);
	if (total > DTB_WINDOW)
		return 0;
	const uint8_t *p = base + be32(base + 8);
	const uint8_t *end = base + total;
	const char *strings = (const char *)base + be32(base + 12);
	int depth = 0, in_chosen = 0;

	while (p + 4 <= end) {
		uint32_t token = be32(p);
		p += 4;
		if (token == FDT_BEGIN_NODE) {
			const char *name = (const char *)p;
			depth++;
			in_chosen = depth == 2 && streq(name, "chosen");
			p += align4(str_len(name) + 1);
		} else if (token == FDT_END_NODE) {
			depth--;
			in_chosen = 0;
		} else if (token == FDT_PROP) {
			uint32_t len = be32(p);
			uint32_t nameoff = be32(p + 4);
			p += 8;
			if (in_chosen && streq(strings + nameoff, "bootargs") && len > 0 &&
			    p[len - 1] == '\0')
				return (const char *)p;
			p += align4(len);
		} else if (token == FDT_NOP) {
			continue;
		} else {
			break;
		}
	}
	return "";
}
