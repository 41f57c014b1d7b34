/* A shared object that forgot to export berth_plugin_entry. */
#include "berth/plugin.h"

const berth_plugin *berth_plugin_entry_hidden(void);

const berth_plugin *berth_plugin_entry_hidden(void)
{
	return 0;
}
