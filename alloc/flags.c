/* Human-readable flag strings for reports and statistics. */
#include <stdio.h>
#include <string.h>
#include "alloc/flags.h"

const char *mc_flags_str(mc_flags_t f, char *buf, unsigned long len)
{
	static const struct { mc_flags_t bits; const char *name; } base[] = {
		{ MC_KERNEL, "KERNEL" }, { MC_NOFS, "NOFS" }, { MC_NOIO, "NOIO" },
		{ MC_NOWAIT, "NOWAIT" },
	};
	static const struct { mc_flags_t bit; const char *name; } mods[] = {
		{ MC_NOFAIL, "NOFAIL" }, { MC_HIGH, "HIGH" }, { MC_RETRY_MAYFAIL, "RETRY_MAYFAIL" },
		{ MC_NORETRY, "NORETRY" }, { MC_ZERO, "ZERO" }, { MC_NOWARN, "NOWARN" },
	};
	mc_flags_t core = f & (MC_DIRECT_RECLAIM | MC_WAKE | MC_IO | MC_FS);
	size_t n = 0;
	const char *name = NULL;

	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		if (core == base[i].bits)
			name = base[i].name;
	if (core == MC_NOWAIT && (f & MC_HIGH)) {
		name = "ATOMIC";
		f &= ~MC_HIGH;
	}
	if (name)
		n = (size_t)snprintf(buf, len, "%s", name);
	else
		n = (size_t)snprintf(buf, len, "0x%x", core);
	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]) && n < len; i++)
		if (f & mods[i].bit)
			n += (size_t)snprintf(buf + n, len - n, "|%s", mods[i].name);
	return buf;
}
