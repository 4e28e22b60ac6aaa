"""The database export-to-sqlite.py creates (tools/perf/scripts/python/export-to-sqlite.py, perf 6.1): its
statements verbatim, tabs included, so that a database pyperf writes dumps (``sqlite3 DB .dump``) as perf's
does and the queries and views people already have run unchanged. sqlite has printf (>= 3.8.3), so the
views format addresses with ``printf("%x", ...)`` as perf's script then does.

``STATEMENTS``: (condition, SQL) in perf's order; condition None (always), ``all`` or ``branches`` (the
samples table of the columns argument), ``call_paths`` (calls or callchains asked), ``calls``.
"""

STATEMENTS = [
    (None, 'CREATE TABLE selected_events (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,name\t\tvarchar(80))'),
    (None, 'CREATE TABLE machines (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,pid\t\tinteger,root_dir \tvarchar(4096))'),
    (None, 'CREATE TABLE threads (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,machine_id\tbigint,process_id\tbigint,'
        'pid\t\tinteger,tid\t\tinteger)'),
    (None, 'CREATE TABLE comms (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,comm\t\tvarchar(16),c_thread_id\tbigint,'
        'c_time\t\tbigint,exec_flag\tboolean)'),
    (None, 'CREATE TABLE comm_threads (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,comm_id\tbigint,thread_id\tbigint)'),
    (None, 'CREATE TABLE dsos (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,machine_id\tbigint,short_name\tvarchar(256),'
        'long_name\tvarchar(4096),build_id\tvarchar(64))'),
    (None, 'CREATE TABLE symbols (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,dso_id\t\tbigint,sym_start\tbigint,'
        'sym_end\tbigint,binding\tinteger,name\t\tvarchar(2048))'),
    (None, 'CREATE TABLE branch_types (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,name\t\tvarchar(80))'),
    ('branches', 'CREATE TABLE samples (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,evsel_id\tbigint,machine_id\tbigint,'
        'thread_id\tbigint,comm_id\tbigint,dso_id\t\tbigint,symbol_id\tbigint,sym_offset\tbigint,ip\t\tbigint,'
        'time\t\tbigint,cpu\t\tinteger,to_dso_id\tbigint,to_symbol_id\tbigint,to_sym_offset\tbigint,'
        'to_ip\t\tbigint,branch_type\tinteger,in_tx\t\tboolean,call_path_id\tbigint,insn_count\tbigint,'
        'cyc_count\tbigint,flags\t\tinteger)'),
    ('all', 'CREATE TABLE samples (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,evsel_id\tbigint,machine_id\tbigint,'
        'thread_id\tbigint,comm_id\tbigint,dso_id\t\tbigint,symbol_id\tbigint,sym_offset\tbigint,ip\t\tbigint,'
        'time\t\tbigint,cpu\t\tinteger,to_dso_id\tbigint,to_symbol_id\tbigint,to_sym_offset\tbigint,'
        'to_ip\t\tbigint,period\t\tbigint,weight\t\tbigint,transaction_\tbigint,data_src\tbigint,'
        'branch_type\tinteger,in_tx\t\tboolean,call_path_id\tbigint,insn_count\tbigint,cyc_count\tbigint,'
        'flags\t\tinteger)'),
    ('call_paths', 'CREATE TABLE call_paths (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,parent_id\tbigint,symbol_id\tbigint,'
        'ip\t\tbigint)'),
    ('calls', 'CREATE TABLE calls (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,thread_id\tbigint,comm_id\tbigint,'
        'call_path_id\tbigint,call_time\tbigint,return_time\tbigint,branch_count\tbigint,call_id\tbigint,'
        'return_id\tbigint,parent_call_path_id\tbigint,flags\t\tinteger,parent_id\tbigint,insn_count\tbigint,'
        'cyc_count\tbigint)'),
    (None, 'CREATE TABLE ptwrite (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,payload\tbigint,exact_ip\tinteger)'),
    (None, 'CREATE TABLE cbr (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,cbr\t\tinteger,mhz\t\tinteger,percent\tinteger)'),
    (None, 'CREATE TABLE mwait (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,hints\t\tinteger,extensions\tinteger)'),
    (None, 'CREATE TABLE pwre (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,cstate\t\tinteger,subcstate\tinteger,'
        'hw\t\tinteger)'),
    (None, 'CREATE TABLE exstop (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,exact_ip\tinteger)'),
    (None, 'CREATE TABLE pwrx (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,deepest_cstate\tinteger,last_cstate\tinteger,'
        'wake_reason\tinteger)'),
    (None, 'CREATE TABLE context_switches (id\t\tinteger\t\tNOT NULL\tPRIMARY KEY,machine_id\tbigint,time\t\tbigint,'
        'cpu\t\tinteger,thread_out_id\tbigint,comm_out_id\tbigint,thread_in_id\tbigint,comm_in_id\tbigint,'
        'flags\t\tinteger)'),
    (None, 'CREATE VIEW machines_view AS SELECT id,pid,root_dir,'
        "CASE WHEN id=0 THEN 'unknown' WHEN pid=-1 THEN 'host' ELSE 'guest' END AS host_or_guest FROM mach"
        'ines'),
    (None, 'CREATE VIEW dsos_view AS SELECT id,machine_id,'
        '(SELECT host_or_guest FROM machines_view WHERE id = machine_id) AS host_or_guest,short_name,'
        'long_name,build_id FROM dsos'),
    (None, 'CREATE VIEW symbols_view AS SELECT id,name,(SELECT short_name FROM dsos WHERE id=dso_id) AS dso,'
        'dso_id,sym_start,sym_end,'
        "CASE WHEN binding=0 THEN 'local' WHEN binding=1 THEN 'global' ELSE 'weak' END AS binding FROM sym"
        'bols'),
    (None, 'CREATE VIEW threads_view AS SELECT id,machine_id,'
        '(SELECT host_or_guest FROM machines_view WHERE id = machine_id) AS host_or_guest,process_id,pid,'
        'tid FROM threads'),
    (None, 'CREATE VIEW comm_threads_view AS SELECT comm_id,'
        '(SELECT comm FROM comms WHERE id = comm_id) AS command,thread_id,'
        '(SELECT pid FROM threads WHERE id = thread_id) AS pid,'
        '(SELECT tid FROM threads WHERE id = thread_id) AS tid FROM comm_threads'),
    ('call_paths', 'CREATE VIEW call_paths_view AS SELECT c.id,printf("%x", c.ip) AS ip,c.symbol_id,'
        '(SELECT name FROM symbols WHERE id = c.symbol_id) AS symbol,'
        '(SELECT dso_id FROM symbols WHERE id = c.symbol_id) AS dso_id,'
        '(SELECT dso FROM symbols_view  WHERE id = c.symbol_id) AS dso_short_name,c.parent_id,'
        'printf("%x", p.ip) AS parent_ip,p.symbol_id AS parent_symbol_id,'
        '(SELECT name FROM symbols WHERE id = p.symbol_id) AS parent_symbol,'
        '(SELECT dso_id FROM symbols WHERE id = p.symbol_id) AS parent_dso_id,'
        '(SELECT dso FROM symbols_view  WHERE id = p.symbol_id) AS parent_dso_short_name FROM call_paths c'
        ' INNER JOIN call_paths p ON p.id = c.parent_id'),
    ('calls', 'CREATE VIEW calls_view AS SELECT calls.id,thread_id,'
        '(SELECT pid FROM threads WHERE id = thread_id) AS pid,'
        '(SELECT tid FROM threads WHERE id = thread_id) AS tid,'
        '(SELECT comm FROM comms WHERE id = comm_id) AS command,call_path_id,printf("%x", ip) AS ip,'
        'symbol_id,(SELECT name FROM symbols WHERE id = symbol_id) AS symbol,call_time,return_time,'
        'return_time - call_time AS elapsed_time,branch_count,insn_count,cyc_count,'
        'CASE WHEN cyc_count=0 THEN CAST(0 AS FLOAT) ELSE ROUND(CAST(insn_count AS FLOAT) / cyc_count,'
        ' 2) END AS IPC,call_id,return_id,'
        "CASE WHEN flags=0 THEN '' WHEN flags=1 THEN 'no call' WHEN flags=2 THEN 'no return' WHEN flags=3 "
        "THEN 'no call/return' WHEN flags=6 THEN 'jump' ELSE flags END AS flags,parent_call_path_id,"
        'calls.parent_id FROM calls INNER JOIN call_paths ON call_paths.id = call_path_id'),
    (None, 'CREATE VIEW samples_view AS SELECT id,time,cpu,'
        '(SELECT pid FROM threads WHERE id = thread_id) AS pid,'
        '(SELECT tid FROM threads WHERE id = thread_id) AS tid,'
        '(SELECT comm FROM comms WHERE id = comm_id) AS command,'
        '(SELECT name FROM selected_events WHERE id = evsel_id) AS event,printf("%x", ip) AS ip_hex,'
        '(SELECT name FROM symbols WHERE id = symbol_id) AS symbol,sym_offset,'
        '(SELECT short_name FROM dsos WHERE id = dso_id) AS dso_short_name,printf("%x",'
        ' to_ip) AS to_ip_hex,(SELECT name FROM symbols WHERE id = to_symbol_id) AS to_symbol,'
        'to_sym_offset,(SELECT short_name FROM dsos WHERE id = to_dso_id) AS to_dso_short_name,'
        '(SELECT name FROM branch_types WHERE id = branch_type) AS branch_type_name,in_tx,insn_count,'
        'cyc_count,CASE WHEN cyc_count=0 THEN CAST(0 AS FLOAT) ELSE ROUND(CAST(insn_count AS FLOAT) / cyc_'
        'count, 2) END AS IPC,flags FROM samples'),
    (None, 'CREATE VIEW ptwrite_view AS SELECT ptwrite.id,time,cpu,printf("%x", payload) AS payload_hex,'
        "CASE WHEN exact_ip=0 THEN 'False' ELSE 'True' END AS exact_ip FROM ptwrite INNER JOIN samples ON "
        'samples.id = ptwrite.id'),
    (None, 'CREATE VIEW cbr_view AS SELECT cbr.id,time,cpu,cbr,mhz,'
        'percent FROM cbr INNER JOIN samples ON samples.id = cbr.id'),
    (None, 'CREATE VIEW mwait_view AS SELECT mwait.id,time,cpu,printf("%x", hints) AS hints_hex,printf("%x",'
        ' extensions) AS extensions_hex FROM mwait INNER JOIN samples ON samples.id = mwait.id'),
    (None, 'CREATE VIEW pwre_view AS SELECT pwre.id,time,cpu,cstate,subcstate,'
        "CASE WHEN hw=0 THEN 'False' ELSE 'True' END AS hw FROM pwre INNER JOIN samples ON samples.id = pw"
        're.id'),
    (None, 'CREATE VIEW exstop_view AS SELECT exstop.id,time,cpu,'
        "CASE WHEN exact_ip=0 THEN 'False' ELSE 'True' END AS exact_ip FROM exstop INNER JOIN samples ON s"
        'amples.id = exstop.id'),
    (None, 'CREATE VIEW pwrx_view AS SELECT pwrx.id,time,cpu,deepest_cstate,last_cstate,'
        "CASE     WHEN wake_reason=1 THEN 'Interrupt' WHEN wake_reason=2 THEN 'Timer Deadline' WHEN wake_r"
        "eason=4 THEN 'Monitored Address' WHEN wake_reason=8 THEN 'HW' ELSE wake_reason END AS wake_reason"
        ' FROM pwrx INNER JOIN samples ON samples.id = pwrx.id'),
    (None, 'CREATE VIEW power_events_view AS SELECT samples.id,time,cpu,selected_events.name AS event,'
        'CASE WHEN selected_events.name=\'cbr\' THEN (SELECT cbr FROM cbr WHERE cbr.id = samples.id) ELSE ""'
        " END AS cbr,CASE WHEN selected_events.name='cbr' THEN (SELECT mhz FROM cbr WHERE cbr.id = samples"
        '.id) ELSE "" END AS mhz,'
        "CASE WHEN selected_events.name='cbr' THEN (SELECT percent FROM cbr WHERE cbr.id = samples.id) ELS"
        'E "" END AS percent,CASE WHEN selected_events.name=\'mwait\' THEN (SELECT printf("%x",'
        ' hints) FROM mwait WHERE mwait.id = samples.id) ELSE "" END AS hints_hex,'
        'CASE WHEN selected_events.name=\'mwait\' THEN (SELECT printf("%x",'
        ' extensions) FROM mwait WHERE mwait.id = samples.id) ELSE "" END AS extensions_hex,'
        "CASE WHEN selected_events.name='pwre' THEN (SELECT cstate FROM pwre WHERE pwre.id = samples.id) E"
        'LSE "" END AS cstate,'
        "CASE WHEN selected_events.name='pwre' THEN (SELECT subcstate FROM pwre WHERE pwre.id = samples.id"
        ') ELSE "" END AS subcstate,'
        "CASE WHEN selected_events.name='pwre' THEN (SELECT hw FROM pwre WHERE pwre.id = samples.id) ELSE "
        '"" END AS hw,CASE WHEN selected_events.name=\'exstop\' THEN (SELECT exact_ip FROM exstop WHERE exst'
        'op.id = samples.id) ELSE "" END AS exact_ip,'
        "CASE WHEN selected_events.name='pwrx' THEN (SELECT deepest_cstate FROM pwrx WHERE pwrx.id = sampl"
        'es.id) ELSE "" END AS deepest_cstate,'
        "CASE WHEN selected_events.name='pwrx' THEN (SELECT last_cstate FROM pwrx WHERE pwrx.id = samples."
        'id) ELSE "" END AS last_cstate,'
        "CASE WHEN selected_events.name='pwrx' THEN (SELECT CASE     WHEN wake_reason=1 THEN 'Interrupt' W"
        "HEN wake_reason=2 THEN 'Timer Deadline' WHEN wake_reason=4 THEN 'Monitored Address' WHEN wake_rea"
        'son=8 THEN \'HW\' ELSE wake_reason END FROM pwrx WHERE pwrx.id = samples.id) ELSE "" END AS wake_re'
        'ason FROM samples INNER JOIN selected_events ON selected_events.id = evsel_id WHERE selected_even'
        "ts.name IN ('cbr','mwait','exstop','pwre','pwrx')"),
    (None, 'CREATE VIEW context_switches_view AS SELECT context_switches.id,context_switches.machine_id,'
        'context_switches.time,context_switches.cpu,th_out.pid AS pid_out,th_out.tid AS tid_out,'
        'comm_out.comm AS comm_out,th_in.pid AS pid_in,th_in.tid AS tid_in,comm_in.comm AS comm_in,'
        "CASE\t  WHEN context_switches.flags = 0 THEN 'in' WHEN context_switches.flags = 1 THEN 'out' WHEN "
        "context_switches.flags = 3 THEN 'out preempt' ELSE context_switches.flags END AS flags FROM conte"
        'xt_switches INNER JOIN threads AS th_out ON th_out.id   = context_switches.thread_out_id INNER JO'
        'IN threads AS th_in  ON th_in.id    = context_switches.thread_in_id INNER JOIN comms AS comm_out '
        'ON comm_out.id = context_switches.comm_out_id INNER JOIN comms AS comm_in  ON comm_in.id  = conte'
        'xt_switches.comm_in_id'),
]
