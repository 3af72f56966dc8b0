@echo off
rem upnsync for Windows Task Scheduler (deploy\windows\upnsync-task.xml runs
rem this file). The task's "Last Run Result" is upnsync's exit code:
rem   0 in sync or applied   1 error, nothing written   2 dry run, changes pending
rem   3 stopped by a guard    4 finished with conflicts
rem Check the settings first by running this file with "doctor" as its
rem argument, from a command prompt as the task's account.
setlocal
set "UPNSYNC=C:\Program Files\upnsync\upnsync.exe"
set "CONF=C:\Octopus config"

rem "doctor" checks everything below without writing; anything else syncs.
set "COMMAND=%~1"
if /i not "%COMMAND%"=="doctor" set "COMMAND=sync"

"%UPNSYNC%" %COMMAND% /ConfigFilePath:"%CONF%\ADSIReaderLDAPMappings.xml" /Directory:ldaps://dc1.corp.example.com /Domain:corp.example.com /Login:svc-upnsync@corp.example.com /PasswordFile:"%CONF%\upnsync.pw" /Store:sqlite:"%CONF%\octopus-users.db" /Apply /LogFilePath:"%CONF%\logs" /LogKeep:60 /SummaryFile:"%CONF%\last-run.json" /Quiet
exit /b %ERRORLEVEL%
