/*
 * commands.h - the subcommands of the `berth` binary; main.c dispatches.
 * Each returns the process exit status.
 */
#ifndef BERTH_COMMANDS_H
#define BERTH_COMMANDS_H

int cmd_serve(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_plugin(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
/*
 * `berth NAME ARGS...`: exec berth-NAME from the berth binary's folder or
 * PATH with argv (argv[0] is NAME). Returns only on failure: -1 when there
 * is no such program, an exit status otherwise.
 */
int cmd_external(char **argv);

/* Parse "-c FILE" / "--config FILE" / "--config=FILE" and "-h/--help".
 * Returns 0, 1 when help was asked for, -1 on a usage error (printed). */
int command_options(int argc, char **argv, const char **config, const char *usage);

#endif
