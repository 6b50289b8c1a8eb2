"""casekit's command-line help, in English (see kit.messages and kit.cli.help).

``help.<command>`` describes a command (its first sentence is what the command
list shows); ``help.<command>.<parameter>`` one of its parameters;
``help.option.<name>`` and ``help.arg.<name>`` what several commands share.
"""

MESSAGES: dict[str, str] = {
    # typer's words around the texts
    "help.panel.arguments": "Arguments",
    "help.panel.options": "Options",
    "help.panel.commands": "Commands",
    "help.panel.default": "[default: {value}]",
    "help.panel.required": "[required]",
    # shared by several commands
    "help.option.help": "Show this message and exit.",
    "help.option.course": "The course folder (holds course.toml).",
    "help.option.sessions": "Only these sessions (repeatable).",
    "help.option.session": "Only this session.",
    "help.option.db": "Gradebook URL, e.g. postgresql+psycopg://user@host/db.",
    "help.option.unsafe": "Run trainees' code WITHOUT the sandbox, with your own rights: only for "
    "submissions you trust, on a machine without bubblewrap (docs/security.md).",
    "help.option.pdf": "Also print each page to a PDF beside it (Chromium).",
    "help.option.lang": "Language of messages (default: CASEKIT_LANG, else the course's, "
    "else the locale's).",
    "help.option.cluster": "Dask scheduler, tcp://host:port.",
    "help.arg.cohort": "The cohort (its folder under cohorts/).",
    "help.arg.session": "The session (its id in the cohort's schedule).",
    # the program
    "help.casekit": "casekit: parameterised case teaching with Jupyter.",
    # authoring
    "help.check": "Validate the course: files, references, notebooks, deliberations.",
    "help.check.course": "Course folder.",
    "help.build": "Run each session's notebook with its parameters; write both editions.",
    "help.build.workers": "Parallel notebooks (default: cores).",
    "help.build.force": "Rebuild even when nothing changed.",
    "help.build.engine": "fork (fast, default) or kernel.",
    "help.build.handouts": "Then write the HTML handouts (as casekit handouts).",
    "help.handouts": "Export a built cohort to HTML handouts; print the index path.",
    "help.handouts.instructor": "Also write instructor handouts.",
    "help.try": "Grade a set of answers as a submission would be; print the scores, "
    "write the feedback page.",
    "help.try.answers": "Answers by question id: a .json, .yaml or .toml file.",
    "help.try.trainee": "Whose workbook and variant (default: the roster's first).",
    "help.try.out_path": "Where to write the feedback page.",
    "help.import": "Bring assignments over from nbgrader or otter-grader.",
    "help.import.out_dir": "Where to write (default: the course's exercises/).",
    "help.import.force": "Overwrite notebooks an earlier import wrote.",
    "help.import.nbgrader": "Turn an nbgrader source assignment into casekit session notebooks.",
    "help.import.nbgrader.source": "A source notebook or source/<assignment>/ folder.",
    "help.import.otter": "Turn an otter-grader master notebook into a casekit session notebook.",
    "help.import.otter.source": "An otter-grader master notebook.",
    # the class
    "help.release": "One personalised workbook per trainee and session into the exchange outbox.",
    "help.release.trainee": "Only these trainees (repeatable).",
    "help.submit": "Hand a workbook and its answers to the exchange inbox; print the receipt.",
    "help.submit.workbook": "The workbook to hand in (.ipynb).",
    "help.submit.exchange": "Exchange folder (default: the workbook's).",
    "help.collect": "Take submissions into the append-only store.",
    "help.collect.source": "A folder, a .zip/.tar(.gz), or a hub's "
    "https://HUB/services/casekit-exchange/ instead of the inbox.",
    "help.collect.token": "An instructor's hub API token for a hub --source "
    "(default $CASEKIT_HUB_TOKEN).",
    "help.collect.times": "Whose hand-in times to take: arrival (the time of this collect, default) "
    "or nbgrader (each notebook's timestamp.txt, as nbgrader's exchange recorded it).",
    "help.collect.identity": "Who handed in otter-grader notebooks: filename (the roster id in "
    "the file name), otter-metadata (Gradescope's submission metadata) or FILE.csv "
    "(columns file,trainee).",
    "help.live": "The room's answers on the projector as trainees give them; open, close and "
    "reveal each question.",
    "help.live.port": "Port of the page (0: any free port).",
    "help.live.ip": "Address to listen on (loopback by default).",
    "help.live.named": "Show trainees' names (default: anonymous).",
    "help.hub": "A cohort's JupyterHub on this machine: accounts, homes, exchange service; "
    "start and stop.",
    "help.hub.action": "start | stop | status | config | remove-users",
    "help.hub.ip": "Address the hub listens on.",
    "help.hub.port": "Port of the hub's web address.",
    "help.hub.homes": "Where accounts' home folders are made.",
    "help.hub.owner": "System user owning the course.",
    "help.hub.view": "What trainees land on: voila or lab.",
    "help.hub.reissue": "Give this account a new password (repeatable).",
    "help.hub.k8s": "Write zero-to-jupyterhub values to this file instead.",
    # grading
    "help.grade": "Autograde submissions into the gradebook; open items wait for marking.\n\n"
    "Trainees' code runs in a sandbox (bubblewrap); see docs/security.md.",
    "help.grade.workers": "Parallel submissions.",
    "help.grade.force": "Regrade what is already graded.",
    "help.mark": "Write the marking notebook for essays, logs and reports; print its path "
    "and what is left.",
    "help.mark.anonymous": "Hide trainee names while marking.",
    "help.export-marks": "Write the marking queue and its marks to a spreadsheet for "
    "marking offline.",
    "help.export-marks.to": "marks.xlsx or marks.csv",
    "help.export-marks.anonymous": "Pseudonyms instead of names.",
    "help.import-marks": "Read marks from a spreadsheet; any bad row and nothing is written.",
    "help.import-marks.sheet": "A sheet written by export-marks, filled in.",
    "help.import-marks.marker": "Who marked (kept with each mark).",
    "help.feedback": "One graded HTML page per trainee and session.",
    "help.grades": "Export the gradebook with per-unit subtotals, or as a Moodle/Canvas "
    "grade file.",
    "help.grades.to": "grades.csv or grades.xlsx",
    "help.grades.format": "table (casekit's own, default), moodle or canvas "
    "(LMS grade import CSV).",
    "help.grades.map_": "LMS column=roster column, e.g. 'Email address=email' or "
    "'SIS Login ID=id' (repeatable).",
    "help.grades.assignment": "Canvas: SESSION=ASSIGNMENT_ID, to update an existing assignment.",
    "help.grades.provisional": "Moodle/Canvas: include provisional scores of sessions "
    "still waiting for marking (by default they are left empty).",
    # the programme
    "help.guide": "Write the programme guide as one offline HTML file; print its path.",
    "help.guide.out_path": "Where to write the guide.",
    "help.report": "The cohort dashboard (hand-ins, scores, heat map, evaluation), "
    "or --programme across cohorts.",
    "help.report.cohort": "The cohort (omit with --programme).",
    "help.report.programme": "One page across all cohorts instead.",
    "help.report.out_path": "Where to write the report.",
    "help.summary": "Sessions by unit, hours, interactive share, deliberations and tasks "
    "of a cohort.",
    "help.tasks": "Issue-based tasks of a cohort, one row per trainee (groups expanded).",
    "help.deliberate": "Record one party's input to a session's pre-class deliberation "
    "(history is kept).",
    "help.deliberate.by": "Who records this (name).",
    "help.deliberate.role": "organiser, teacher or trainee-rep.",
    "help.deliberate.direction": "The teacher's direction.",
    "help.deliberate.expectation": "A trainee expectation (repeatable).",
    "help.deliberate.question": "A trainee question (repeatable).",
    "help.deliberate.decision": "An organisers' decision (repeatable).",
    "help.deliberate.emphasis": "An agreed emphasis topic (repeatable).",
    "help.deliberate.module": "An optional module to include (repeatable).",
}
